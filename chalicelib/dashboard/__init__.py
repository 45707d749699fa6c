"""The dashboard (docs/dashboard.md): one HTML page served by GET /dashboard, and the bearer-token auth of the
read routes it calls in deployed stages. The page lives here, inside chalicelib/, because `chalice package`
and `chalice deploy` ship chalicelib/ whole: a file elsewhere would be missing in Lambda."""

# How long API Gateway reuses the authorizer's answer for the same token: a revoked token's longest extra life
# beyond the authorizer's own re-read (chalicelib/dashboard/token.py). Here, not in auth.py, because app.py
# reads it at import and auth.py imports botocore.
AUTH_TTL_SECONDS = 60
