"""The dashboard (docs/dashboard.md): one HTML page served by GET /dashboard, and the bearer-token auth of the
read routes it calls in deployed stages. The page lives here, inside chalicelib/, because `chalice package`
and `chalice deploy` ship chalicelib/ whole: a file elsewhere would be missing in Lambda."""
