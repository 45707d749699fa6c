"""Decide an AWS request the way IAM does, from the policies alone (no AWS, no moto).

Why this exists: moto enforces only the Action of identity policies (it compares a statement's Resource
with ``*`` and ignores conditions and resource-based policies), so a least-privilege policy cannot be
proven on the rig by moto. This module evaluates Action/NotAction, Resource/NotResource, Principal/
NotPrincipal, Condition (every documented operator family, ``IfExists``, ``ForAllValues:``/``ForAnyValue:``)
and policy variables, with AWS's documented order: an explicit Deny anywhere wins; within one account an
Allow in either the identity policies or the resource policy suffices (but a resource policy naming only
the account delegates to the identity policies); across accounts both must allow. Kept libraries were
checked first: policyuniverse only parses, principalmapper is AGPL, unmaintained and needs its graph model.

Not modelled (pushdeploy uses none of them): SCPs/RCPs, permission boundaries, session policies, the
IAM-role-trust and KMS-key-policy rule that the resource policy must always allow, and policies of the old
language version 2008-10-17 (or none), where ``${...}`` is literal text: variables are always substituted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

ContextValue = str | bool | int | float | Sequence[str]


class PolicyError(ValueError):
    """A policy (or request) this evaluator cannot decide: better a loud error than a silent guess."""


@dataclass(frozen=True)
class Request:
    """One AWS call: who (an IAM ARN, or a service principal such as ``sns.amazonaws.com``), what, on
    which resource ARN (``*`` for actions without a resource type), and the request context keys."""

    principal_arn: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    sid: str | None = None  # the deciding statement (the Deny, or the Allow that granted)


@dataclass(frozen=True)
class Principal:
    kind: str  # "service" | "root" | "user" | "role" | "session"
    arn: str
    account: str = ""
    name: str = ""  # user name, role name (sessions: the role's name)


# ---------------------------------------------------------------------------------------------- principals

def parse_principal(arn: str) -> Principal:
    if not arn.startswith("arn:"):
        if "." in arn:
            return Principal("service", arn)
        raise PolicyError(f"principal {arn!r} is neither an ARN nor a service principal")
    parts = arn.split(":", 5)
    if len(parts) != 6:
        raise PolicyError(f"principal {arn!r} is not an ARN")
    service, account, resource = parts[2], parts[4], parts[5]
    if service == "iam" and resource == "root":
        return Principal("root", arn, account)
    if service == "iam" and resource.startswith(("user/", "role/")):
        return Principal(resource.split("/", 1)[0], arn, account, resource.rsplit("/", 1)[1])
    if service == "sts" and resource.startswith("assumed-role/") and resource.count("/") >= 2:
        return Principal("session", arn, account, resource.split("/")[1])
    raise PolicyError(f"principal {arn!r}: only IAM users, roles, role sessions and root are modelled")


def _aws_principal_match(value: str, who: Principal) -> str | None:
    """How one ``Principal: {"AWS": value}`` entry names the caller: "any", "account" or "node" (None: not)."""
    if value == "*":
        return "any"
    if who.kind == "service":
        return None
    account = value if re.fullmatch(r"\d{12}", value) else None
    if account is None and re.fullmatch(r"arn:[^:]+:iam::\d{12}:root", value):
        account = value.split(":")[4]
    if account is not None:
        return "account" if account == who.account else None
    if value == who.arn:
        return "node"
    try:
        named = parse_principal(value) if value.startswith("arn:") else None
    except PolicyError:  # a federated user, a SAML provider...: never one of the callers modelled here
        return None
    if named and named.kind == "role" and who.kind in ("role", "session"):
        return "node" if (named.account, named.name) == (who.account, who.name) else None
    return None


def principal_match(field_value: Any, who: Principal) -> str | None:
    """Whether a statement's Principal (or NotPrincipal) element names the caller, and how."""
    if field_value == "*":
        return "any"
    if not isinstance(field_value, Mapping):
        raise PolicyError(f"Principal {field_value!r} must be '*' or a mapping")
    found: list[str] = []
    for value in _listed(field_value.get("AWS", [])):
        how = _aws_principal_match(value, who)
        if how:
            found.append(how)
    if who.kind == "service" and who.arn.lower() in {s.lower() for s in _listed(field_value.get("Service", []))}:
        found.append("service")
    if not found:
        return None
    return next(h for h in ("node", "service", "any", "account") if h in found)


# ---------------------------------------------------------------------------------------------- context

def request_context(request: Request, who: Principal) -> dict[str, ContextValue]:
    """The request's context keys (case-insensitive, so lower-cased), with the ones AWS derives from the
    principal filled in unless the request gives them."""
    derived: dict[str, ContextValue] = {}
    if who.kind == "service":
        derived["aws:principalservicename"] = who.arn
    else:
        derived["aws:principalaccount"] = who.account
        derived["aws:principalarn"] = (f"arn:{who.arn.split(':')[1]}:iam::{who.account}:role/{who.name}"
                                       if who.kind == "session" else who.arn)
        derived["aws:principaltype"] = {"root": "Account", "user": "User", "role": "AssumedRole",
                                        "session": "AssumedRole"}[who.kind]
        if who.kind == "user":
            derived["aws:username"] = who.name
    derived.update({key.lower(): value for key, value in request.context.items()})
    return derived


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _context_values(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    if key.lower() not in context:
        return None
    value = context[key.lower()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_as_text(v) for v in value]
    return [_as_text(value)]


# ---------------------------------------------------------------------------------------------- patterns

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


def _variable_value(inner: str, context: Mapping[str, ContextValue]) -> str | None:
    """``${key}`` or ``${key, 'default'}``; None when the key is missing (or multi-valued) and has no default."""
    name, _, default = inner.partition(",")
    values = _context_values(context, name.strip())
    if values is not None and len(values) == 1:
        return values[0]
    default = default.strip()
    if len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1]
    return None


def _pieces(text: str, context: Mapping[str, ContextValue]) -> list[tuple[bool, str]] | None:
    """A policy string split into (is_policy_text, text) pieces with its variables substituted; None when a
    variable has no value (the element then matches nothing)."""
    out: list[tuple[bool, str]] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        out.append((True, text[position:found.start()]))
        inner = found.group(1).strip()
        value = _SPECIAL.get(inner) or _variable_value(inner, context)
        if value is None:
            return None
        out.append((False, value))
        position = found.end()
    out.append((True, text[position:]))
    return out


def _glob_regex(text: str, wildcards: bool) -> str:
    if not wildcards:
        return re.escape(text)
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=4096)
def _compiled(regex: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def text_matches(pattern: str, value: str, context: Mapping[str, ContextValue], *, wildcards: bool = True,
                 ignore_case: bool = False) -> bool:
    """``*``/``?`` are wildcards where the element allows them; substituted variable values are literal."""
    pieces = _pieces(pattern, context)
    if pieces is None:
        return False
    regex = "".join(_glob_regex(t, wildcards) if is_policy else re.escape(t) for is_policy, t in pieces)
    return _compiled(regex, ignore_case).fullmatch(value) is not None


def arn_matches(value: str, pattern: str, context: Mapping[str, ContextValue]) -> bool:
    """ArnEquals/ArnLike (both take wildcards): each of the six colon-separated parts is matched on its own."""
    pieces = _pieces(pattern, context)
    if pieces is None:
        return False
    want, got = "".join(t for _, t in pieces).split(":", 5), value.split(":", 5)
    if len(want) != 6 or len(got) != 6:
        return False
    return all(_compiled(_glob_regex(w, True), False).fullmatch(g) for w, g in zip(want, got, strict=True))


# ---------------------------------------------------------------------------------------------- conditions

def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise PolicyError(f"{text!r} is not a number") from exc


def _date(text: str) -> datetime:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PolicyError(f"{text!r} is not a date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ip_in(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


Compare = Callable[[str, str, Mapping[str, ContextValue]], bool]
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b, "LessThan": lambda a, b: a < b, "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b, "GreaterThanEquals": lambda a, b: a >= b}


def _operators() -> dict[str, tuple[Compare, bool]]:
    """Base operator name -> (does one request value match one policy value, is the operator negated)."""
    def string_equals(v: str, p: str, c: Mapping[str, ContextValue]) -> bool:
        return text_matches(p, v, c, wildcards=False)

    def string_ignore_case(v: str, p: str, c: Mapping[str, ContextValue]) -> bool:
        return text_matches(p, v, c, wildcards=False, ignore_case=True)

    def string_like(v: str, p: str, c: Mapping[str, ContextValue]) -> bool:
        return text_matches(p, v, c)

    def boolean(v: str, p: str, _: Mapping[str, ContextValue]) -> bool:
        return v.lower() == p.lower()

    ops: dict[str, tuple[Compare, bool]] = {
        "StringEquals": (string_equals, False), "StringNotEquals": (string_equals, True),
        "StringEqualsIgnoreCase": (string_ignore_case, False), "StringNotEqualsIgnoreCase": (string_ignore_case, True),
        "StringLike": (string_like, False), "StringNotLike": (string_like, True),
        "ArnEquals": (arn_matches, False), "ArnLike": (arn_matches, False),
        "ArnNotEquals": (arn_matches, True), "ArnNotLike": (arn_matches, True),
        "Bool": (boolean, False), "BinaryEquals": (lambda v, p, _: v == p, False),
        "IpAddress": (lambda v, p, _: _ip_in(v, p), False), "NotIpAddress": (lambda v, p, _: _ip_in(v, p), True),
        "NumericNotEquals": (lambda v, p, _: _number(v) == _number(p), True),
        "DateNotEquals": (lambda v, p, _: _date(v) == _date(p), True),
    }
    for suffix, test in _NUMERIC.items():
        ops[f"Numeric{suffix}"] = (lambda v, p, _, t=test: t(_number(v), _number(p)), False)
        ops[f"Date{suffix}"] = (lambda v, p, _, t=test: t(_date(v).timestamp(), _date(p).timestamp()), False)
    return ops


OPERATORS = _operators()


def parse_operator(name: str) -> tuple[str, str, bool]:
    """``ForAllValues:StringLikeIfExists`` -> ("ForAllValues", "StringLike", True)."""
    qualifier, _, operator = name.rpartition(":")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise PolicyError(f"unknown set operator {qualifier!r} in {name!r}")
    if_exists = operator.endswith("IfExists") and operator != "Null"
    base = operator[: -len("IfExists")] if if_exists else operator
    if base != "Null" and base not in OPERATORS:
        raise PolicyError(f"unknown condition operator {name!r}")
    return qualifier, base, if_exists


def key_holds(operator_name: str, key: str, policy_values: Any, context: Mapping[str, ContextValue]) -> bool:
    """One key of one operator, with AWS's rules for a key the request does not carry: false, except
    for negated operators, ``...IfExists`` and ``ForAllValues:`` (true); ``ForAnyValue:`` is false."""
    qualifier, base, if_exists = parse_operator(operator_name)
    values = _context_values(context, key)
    wanted = [_as_text(p) for p in _listed(policy_values)]
    if base == "Null":
        absent = values is None or values == []
        return all(absent == (w.lower() == "true") for w in wanted)
    compare, negated = OPERATORS[base]

    def positive(value: str) -> bool:
        return any(compare(value, w, context) for w in wanted)

    def one(value: str) -> bool:
        return not positive(value) if negated else positive(value)

    if values is None:
        return if_exists or qualifier == "ForAllValues" or (qualifier == "" and negated)
    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    return not any(positive(v) for v in values) if negated else any(positive(v) for v in values)


def condition_holds(condition: Mapping[str, Any] | None, context: Mapping[str, ContextValue]) -> bool:
    """Every operator and every key must hold (AND); the values of one key are alternatives (OR)."""
    for operator_name, block in (condition or {}).items():
        if not isinstance(block, Mapping):
            raise PolicyError(f"condition {operator_name!r} must map keys to values")
        if not all(key_holds(operator_name, key, values, context) for key, values in block.items()):
            return False
    return True


# ---------------------------------------------------------------------------------------------- statements

def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = _listed(policy.get("Statement", []))
    for s in found:
        if not isinstance(s, Mapping) or s.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"statement {s!r} needs an Effect of Allow or Deny")
    return found


def _either(statement: Mapping[str, Any], positive: str, negative: str, required: bool) -> tuple[list[Any], bool]:
    if (positive in statement) == (negative in statement):
        if not required and positive not in statement:
            return ["*"], False
        raise PolicyError(f"statement {statement.get('Sid')!r} needs exactly one of {positive} and {negative}")
    return (_listed(statement[positive]), False) if positive in statement else (_listed(statement[negative]), True)


def action_matches(statement: Mapping[str, Any], action: str) -> bool:
    patterns, negated = _either(statement, "Action", "NotAction", required=True)
    hit = any(text_matches(p, action, {}, ignore_case=True) for p in patterns)
    return hit != negated


def resource_matches(statement: Mapping[str, Any], resource: str, context: Mapping[str, ContextValue],
                     required: bool) -> bool:
    patterns, negated = _either(statement, "Resource", "NotResource", required=required)
    hit = any(text_matches(p, resource, context) for p in patterns)
    return hit != negated


@dataclass(frozen=True)
class Match:
    statement: Mapping[str, Any]
    how: str = "identity"  # resource policies: how the Principal element named the caller

    @property
    def sid(self) -> str | None:
        return self.statement.get("Sid")


def identity_matches(policy: Mapping[str, Any], request: Request,
                     context: Mapping[str, ContextValue]) -> Iterator[Match]:
    for s in statements(policy):
        if (action_matches(s, request.action) and resource_matches(s, request.resource, context, required=True)
                and condition_holds(s.get("Condition"), context)):
            yield Match(s)


def resource_policy_matches(policy: Mapping[str, Any], request: Request, who: Principal,
                            context: Mapping[str, ContextValue]) -> Iterator[Match]:
    for s in statements(policy):
        if ("Principal" in s) == ("NotPrincipal" in s):
            raise PolicyError(f"resource policy statement {s.get('Sid')!r} needs exactly one of Principal, "
                              "NotPrincipal")
        how = principal_match(s["Principal"], who) if "Principal" in s else (
            None if principal_match(s["NotPrincipal"], who) else "node")
        if how and action_matches(s, request.action) and resource_matches(s, request.resource, context,
                                                                          required=False) \
                and condition_holds(s.get("Condition"), context):
            yield Match(s, how)


# ---------------------------------------------------------------------------------------------- decision

def resource_account(request: Request, who: Principal, context: Mapping[str, ContextValue]) -> str:
    """The account owning the resource: from its ARN, else aws:ResourceAccount, else the caller's."""
    parts = request.resource.split(":", 5)
    if len(parts) == 6 and parts[4]:
        return parts[4]
    given = _context_values(context, "aws:ResourceAccount")
    return given[0] if given else who.account


def _label(match: Match, where: str) -> str:
    if match.how == "root":
        return "the account root user's implicit allow"
    return f"{where} statement {match.sid or '(no Sid)'}"


def evaluate(identity_policies: Sequence[Mapping[str, Any]], resource_policy: Mapping[str, Any] | None,
             request: Request) -> Decision:
    """Allow or deny ``request`` given the caller's identity policies and the resource's policy (None: the
    resource has none). Service principals have no identity policies: only the resource policy decides."""
    who = parse_principal(request.principal_arn)
    context = request_context(request, who)
    identity = [] if who.kind == "service" else [
        m for p in identity_policies for m in identity_matches(p, request, context)]
    resource = list(resource_policy_matches(resource_policy, request, who, context)) if resource_policy else []
    for matches, where in ((identity, "identity policy"), (resource, "resource policy")):
        deny = next((m for m in matches if m.statement["Effect"] == "Deny"), None)
        if deny:
            return Decision(False, f"explicitly denied by {_label(deny, where)}", deny.sid)
    by_identity = next((m for m in identity if m.statement["Effect"] == "Allow"), None)
    if who.kind == "root":  # the account root user may do anything its account's policies do not deny
        by_identity = Match({"Effect": "Allow"}, "root")
    resource_allows = [m for m in resource if m.statement["Effect"] == "Allow"]
    # a statement naming the caller itself grants more (within the account) than one naming only its account
    by_resource = min(resource_allows, key=lambda m: m.how == "account", default=None)
    if who.kind == "service":
        if by_resource:
            return Decision(True, f"service {who.arn} allowed by {_label(by_resource, 'resource policy')}",
                            by_resource.sid)
        return Decision(False, f"implicitly denied: no resource policy statement allows service {who.arn}")
    if resource_account(request, who, context) == who.account:
        return _same_account(by_identity, by_resource)
    return _cross_account(by_identity, by_resource)


def _same_account(by_identity: Match | None, by_resource: Match | None) -> Decision:
    if by_identity:
        return Decision(True, f"allowed by {_label(by_identity, 'identity policy')}", by_identity.sid)
    if by_resource and by_resource.how != "account":
        return Decision(True, f"allowed by {_label(by_resource, 'resource policy')} (same account)",
                        by_resource.sid)
    if by_resource:
        return Decision(False, f"implicitly denied: {_label(by_resource, 'resource policy')} names only the "
                               "account, which delegates to identity policies, and none allows")
    return Decision(False, "implicitly denied: no statement allows the request")


def _cross_account(by_identity: Match | None, by_resource: Match | None) -> Decision:
    if by_identity and by_resource:
        return Decision(True, f"cross-account: allowed by {_label(by_identity, 'identity policy')} and "
                              f"{_label(by_resource, 'resource policy')}", by_resource.sid)
    missing = " and ".join(w for w, m in (("identity policy", by_identity), ("resource policy", by_resource))
                           if m is None)
    return Decision(False, f"implicitly denied: cross-account request needs both policies; no {missing} allows")
