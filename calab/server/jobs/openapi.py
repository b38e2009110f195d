"""The OpenAPI 3.1 description of the job service (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

from calab._version import __version__
from calab.core.checks import MAX_SAMPLING_RATE, MIN_SAMPLING_RATE
from calab.core.options import DEFAULT_NAN_POLICY, NAN_POLICIES

_ERROR = {"$ref": "#/components/schemas/Error"}
_JOB = {"$ref": "#/components/schemas/Job"}


def _response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON or not a JSON object", 401: "Missing or wrong bearer token",
        403: "A path leaves the data root, or a URL the shared prefixes", 404: "No such job",
        409: "Conflict (output in use by an active job or holding other data, or job finished)",
        413: "Request body too large", 422: "Invalid field (named in `field`)",
    }
    return {str(code): _response(text[code], _ERROR) for code in codes}


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}},
    },
    "Params": {
        "description": "A CaTune export JSON, or the flat parameter dict.",
        "type": "object",
        "properties": {
            "tau_rise": {"type": "number", "description": "seconds"},
            "tau_decay": {"type": "number", "description": "seconds"},
            "lambda_": {"type": "number"},
            "fs": {"type": "number", "description": "Hz"},
            "filter_enabled": {"type": "boolean"},
        },
    },
    "AutoParams": {
        "description": "Parameters suggested from the input when the job runs; the result "
                       "and the output's attributes record them under `suggested`.",
        "type": "object",
        "required": ["auto"],
        "additionalProperties": False,
        "properties": {
            "auto": {"const": True},
            "fs": {"type": "number", "minimum": MIN_SAMPLING_RATE,
                   "maximum": MAX_SAMPLING_RATE,
                   "description": "Hz (a plausible sampling rate: 0.1 Hz to 100 kHz)"},
            "filter_enabled": {"type": "boolean", "default": False},
        },
    },
    "Options": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "full": {"type": "boolean", "default": False},
            "conv_mode": {"enum": ["fft", "banded"], "default": "fft"},
            "max_iters": {"type": "integer", "minimum": 1, "default": 2000},
            "chunk_cells": {"type": ["integer", "null"], "minimum": 1},
            "constraint": {"enum": ["nonneg", "box01"], "default": "nonneg"},
            "tol": {"type": "number", "exclusiveMinimum": 0, "default": 1e-4},
            "nan_policy": {"enum": list(NAN_POLICIES), "default": DEFAULT_NAN_POLICY,
                           "description": "raise on NaN samples, or interpolate short gaps"},
        },
    },
    "Submission": {
        "type": "object",
        "required": ["input", "output", "params"],
        "additionalProperties": False,
        "properties": {
            "input": {"type": "string", "description": "zarr store, relative to the data root, "
                      "or a URL under a prefix the service shares (calab serve --allow-url)"},
            "dataset": {"type": ["string", "null"], "description": "array inside a group"},
            "output": {"type": "string", "description": "'.zarr' path relative to the data "
                       "root, or a '.zarr' URL under a shared prefix"},
            "params": {"oneOf": [
                {"$ref": "#/components/schemas/Params"},
                {"const": "auto", "description": "suggested from the input (calab.suggest_params)"
                 " when the job runs; fs from the input"},
                {"$ref": "#/components/schemas/AutoParams"},
            ]},
            "options": {"$ref": "#/components/schemas/Options"},
        },
    },
    "Job": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
            "input": {"type": "string"}, "dataset": {"type": ["string", "null"]},
            "output": {"type": "string"}, "params": {"type": "object"},
            "options": {"type": "object"},
            "progress": {
                "type": "object",
                "properties": {
                    "blocks_done": {"type": "integer"},
                    "blocks_total": {"type": ["integer", "null"]},
                    "fraction": {"type": "number"},
                },
            },
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "attempts": {"type": "integer"},
            "cancel_requested": {"type": "boolean"},
            "error": {"type": ["string", "null"]},
            "result": {"type": ["object", "null"], "description": "engine summary"},
        },
    },
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as a dict.

    Example
    -------
    >>> sorted(openapi_document()["paths"])[0]
    '/api/v1/health'
    """
    return {
        "openapi": "3.1.0",
        "info": {"title": "calab job service", "version": __version__},
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/health": {"get": {
                "summary": "Service and cluster health (no authentication)",
                "security": [],
                "responses": {"200": _response("Health report", {"type": "object"})},
            }},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": _response("OpenAPI 3.1", {"type": "object"}),
                              **_errors(401)},
            }},
            "/api/v1/jobs": {
                "post": {
                    "summary": "Submit a deconvolution job",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Submission"}}}},
                    "responses": {
                        "202": _response("Queued", {"type": "object", "properties": {
                            "id": {"type": "string"}, "status": {"const": "queued"}}}),
                        **_errors(400, 401, 403, 409, 413, 422),
                    },
                },
                "get": {
                    "summary": "List jobs, newest first",
                    "parameters": [
                        {"name": "limit", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _response("A page of jobs", {"type": "object"}),
                                  **_errors(401, 422)},
                },
            },
            "/api/v1/jobs/{job_id}": {
                "parameters": [_JOB_ID],
                "get": {"summary": "Job status and progress",
                        "responses": {"200": _response("The job", _JOB), **_errors(401, 404)}},
                "delete": {
                    "summary": "Cancel a job (finished blocks stay valid for a later resume)",
                    "responses": {"200": _response("Queued job cancelled", _JOB),
                                  "202": _response("Running job asked to stop", _JOB),
                                  **_errors(401, 404, 409)},
                },
            },
        },
    }
