#!/usr/bin/python3
"""fc_swagger_check.py SPEC RECORD — validate recorded Firecracker API requests.

RECORD holds one JSON object a line, {method, path, content_type, body}, as the
stand-in firecracker writes them. Each request must name a path and method of
the Swagger 2.0 SPEC (path templates like /drives/{drive_id} matched, the path
parameter equal to the body's field of that name), and its body must conform to
the body parameter's schema: required fields, types, enums, minimum/maximum, and
no properties the schema does not define. Prints one line per request; exits 1
on any violation.
"""
import json
import re
import sys

import yaml

TYPES = {"string": str, "boolean": bool, "object": dict, "array": list}


def resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["definitions"][schema["$ref"].split("/")[-1]]
    return schema


def validate(spec, schema, value, where, errs):
    schema = resolve(spec, schema)
    t = schema.get("type", "object" if "properties" in schema else None)
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            errs.append(f"{where}: {value!r} is not an integer")
            return
    elif t == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errs.append(f"{where}: {value!r} is not a number")
            return
    elif t in TYPES and not isinstance(value, TYPES[t]):
        errs.append(f"{where}: {value!r} is not of type {t}")
        return
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        errs.append(f"{where}: {value} < minimum {schema['minimum']}")
    if "maximum" in schema and isinstance(value, (int, float)) and value > schema["maximum"]:
        errs.append(f"{where}: {value} > maximum {schema['maximum']}")
    if t == "object":
        props = schema.get("properties", {})
        for r in schema.get("required", []):
            if r not in value:
                errs.append(f"{where}: required field {r!r} missing")
        for k, v in value.items():
            if k not in props:
                errs.append(f"{where}: unknown property {k!r}")
            elif props[k].get("readOnly"):
                errs.append(f"{where}: {k!r} is read-only")
            else:
                validate(spec, props[k], v, f"{where}.{k}", errs)
    if t == "array":
        for i, v in enumerate(value):
            validate(spec, schema.get("items", {}), v, f"{where}[{i}]", errs)


def match(spec, path):
    for tmpl, ops in spec["paths"].items():
        rx = "^" + re.sub(r"\{([a-z_]+)\}", r"(?P<\1>[^/]+)", tmpl) + "$"
        m = re.match(rx, path)
        if m:
            return tmpl, ops, m.groupdict()
    return None, None, None


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    bad = 0
    n = 0
    for line in open(sys.argv[2]):
        req = json.loads(line)
        n += 1
        errs = []
        method, path, body = req["method"].lower(), req["path"], req["body"]
        tmpl, ops, params = match(spec, path)
        if tmpl is None:
            errs.append(f"path {path} is not in the spec")
        elif method not in ops:
            errs.append(f"{method.upper()} is not allowed on {tmpl}")
        else:
            op = ops[method]
            bodyp = [p for p in op.get("parameters", []) if p.get("in") == "body"]
            if bodyp:
                if body is None:
                    if bodyp[0].get("required"):
                        errs.append("body required")
                else:
                    if req.get("content_type") != "application/json":
                        errs.append(f"Content-Type {req.get('content_type')!r}")
                    validate(spec, bodyp[0]["schema"], body, "body", errs)
            elif body is not None:
                errs.append("body sent where the spec has none")
            for k, v in params.items():
                if isinstance(body, dict) and k in body and body[k] != v:
                    errs.append(f"path parameter {k}={v} but body says {body[k]!r}")
        status = "ok" if not errs else "BAD: " + "; ".join(errs)
        print(f"{req['method']} {path} {json.dumps(body, sort_keys=True)}: {status}")
        bad += bool(errs)
    if n == 0:
        print("no requests recorded")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
