# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run
# `make generate` (openapi/tools/generate.py), which ran:
#   openapi-python-client generate --path openapi/edge-impulse.yaml --config generator-config.yaml --meta none --fail-on-warning
# Generator: openapi-python-client 0.29.1, formatted by ruff 0.17.6
# Spec:   openapi/edge-impulse.yaml content sha256 b47af13c811f6b03b5647cd788cccce65928c076a648371aa4c89f4af0e96fee
# Config: generator-config.yaml sha256 2bd372a6adfb527322109e70c9f8aedcb722fd73e5e0db0d6ab8fc51b1d1a88e
"""Contains shared errors types that can be raised from API functions"""


class UnexpectedStatus(Exception):
    """Raised by api functions when the response status an undocumented status and Client.raise_on_unexpected_status is True"""

    def __init__(self, status_code: int, content: bytes):
        self.status_code = status_code
        self.content = content

        super().__init__(
            f"Unexpected status code: {status_code}\n\nResponse content:\n{content.decode(errors='ignore')}"
        )


__all__ = ["UnexpectedStatus"]
