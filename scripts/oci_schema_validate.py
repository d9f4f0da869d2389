#!/usr/bin/env python3
"""Validates OCI JSON documents against the image-spec schemas.

    oci_schema_validate.py {manifest|index|config|layout} FILE...

Schemas come from Debian's golang-github-opencontainers-image-spec-dev; every $ref is resolved
by file name. Exit status 1 if any file is invalid.
"""
import json
import os
import sys

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMA_DIR = "/usr/share/gocode/src/github.com/opencontainers/image-spec/schema"
KIND = {
    "manifest": "image-manifest-schema.json",
    "index": "image-index-schema.json",
    "config": "config-schema.json",
    "layout": "image-layout-schema.json",
}


def retrieve(uri):
    name = uri.rsplit("/", 1)[-1].split("#")[0]
    with open(os.path.join(SCHEMA_DIR, name)) as f:
        return Resource.from_contents(json.load(f), default_specification=DRAFT4)


def main():
    kind, files = sys.argv[1], sys.argv[2:]
    with open(os.path.join(SCHEMA_DIR, KIND[kind])) as f:
        schema = json.load(f)
    schema["id"] = "https://opencontainers.org/schema/" + KIND[kind]
    validator = Draft4Validator(schema, registry=Registry(retrieve=retrieve))
    bad = 0
    for path in files:
        with open(path) as f:
            errors = list(validator.iter_errors(json.load(f)))
        for e in errors:
            print(f"{path}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}")
        if not errors:
            print(f"{path}: OK")
        bad += bool(errors)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
