"""Rig fidelity fix for API Gateway: import the Swagger 2.0 document `chalice deploy` sends, as AWS does.

Chalice creates its REST API with ``ImportRestApi`` (later ``PutRestApi``) and a Swagger 2.0 body. AWS accepts
Swagger 2.0 and OpenAPI 3; moto 5.2 reads only OpenAPI 3 (it refuses ``swagger: "2.0"`` and requires
``info.description``, which AWS does not), so `chalice deploy` of a stage with routes failed against the rig
with a 500. moto also creates every imported method with no authorization type, where AWS applies the
method's ``security`` requirement: a method secured by a scheme whose ``x-amazon-apigateway-authtype`` is
``awsSigv4`` becomes ``AWS_IAM``, one without security ``NONE``, so that ``GetMethod`` on the rig says what
API Gateway enforces.

Installed in the moto server child by ``localrig/aws/server.py``; it only lets moto accept what AWS accepts
and report what AWS reports, never more.
"""

from __future__ import annotations

from typing import Any

# x-amazon-apigateway-authtype -> the method's authorizationType (API Gateway's import rules)
AUTH_TYPES = {"awsSigv4": "AWS_IAM", "cognito_user_pools": "COGNITO_USER_POOLS", "custom": "CUSTOM"}


def as_openapi3(api_doc: dict[str, Any]) -> dict[str, Any]:
    """The fields moto's importer reads are the same in Swagger 2.0 (paths, methods, responses, the
    x-amazon-apigateway-integration extension): only the version marker and the optional description differ."""
    doc = {k: v for k, v in api_doc.items() if k != "swagger"}
    doc["openapi"] = "3.0.1"
    doc["info"] = {"description": "", **(api_doc.get("info") or {})}
    return doc


def method_authorization(api_doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(path, METHOD) -> authorizationType of every method: the known scheme its security names, else "NONE"
    (what API Gateway reports for an open method, such as the webhook routes)."""
    schemes = api_doc.get("securityDefinitions") or (api_doc.get("components") or {}).get("securitySchemes") or {}
    found = {}
    for path, methods in (api_doc.get("paths") or {}).items():
        for method, spec in methods.items():
            names = [name for requirement in (spec or {}).get("security") or [] for name in requirement]
            kinds = [AUTH_TYPES.get((schemes.get(name) or {}).get("x-amazon-apigateway-authtype", ""))
                     for name in names]
            found[(path, method.upper())] = kinds[0] if kinds and kinds[0] else "NONE"
    return found


def install() -> None:
    from moto.apigateway.models import APIGatewayBackend

    if getattr(APIGatewayBackend.put_rest_api, "_pushdeploy_patched", False):
        return
    original_put = APIGatewayBackend.put_rest_api

    def put_rest_api(self: Any, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool,
                     mode: str = "merge") -> Any:
        swagger = api_doc.get("swagger") is not None
        api = original_put(self, function_id, as_openapi3(api_doc) if swagger else api_doc, fail_on_warnings, mode)
        for (path, method), kind in method_authorization(api_doc).items():
            api.get_resource_for_path(path).resource_methods[method].authorization_type = kind
        return api

    def import_rest_api(self: Any, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        info = api_doc.get("info") or {}
        api = self.create_rest_api(name=info.get("title", ""), description=info.get("description", ""))
        self.put_rest_api(api.id, api_doc, fail_on_warnings=fail_on_warnings)
        return api

    put_rest_api._pushdeploy_patched = True  # type: ignore[attr-defined]
    APIGatewayBackend.put_rest_api = put_rest_api  # type: ignore[method-assign]
    APIGatewayBackend.import_rest_api = import_rest_api  # type: ignore[method-assign]
