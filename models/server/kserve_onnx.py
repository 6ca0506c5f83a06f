"""A small KServe v2 (Open Inference Protocol) server for exported ONNX networks.

What it is for
--------------
`lacuna models export-server NAME DIR` writes a Triton model repository: DIR/NAME/config.pbtxt and
DIR/NAME/1/model.onnx (with its external weights file, if any, next to it). Triton serves such a
folder, but Triton means Docker and a multi-gigabyte image. This script serves the same folder with
KServe's own Python model server (its FastAPI app, data plane and v2 endpoints) and onnxruntime on
the CPU, so that:

* the test-suite and the benchmarks can talk to a real, independent implementation of the v2
  protocol (not one written for the occasion) without Docker: the JSON and binary tensor forms,
  the metadata, readiness and error answers are KServe's;
* `--delay-ms` makes it a slow or distant server on purpose, to test timeouts, cancellation and
  latency hiding;
* a user can serve a Lacuna export on a machine without Docker.

It is a test and bench server first: REST only (no gRPC), one process, CPU only, no TLS, no
authentication, and it listens on 127.0.0.1 unless told otherwise with --host.

Usage
-----
    python models/server/kserve_onnx.py --model-repository DIR [--host 127.0.0.1] [--port 0]
        [--threads N] [--delay-ms MS] [--models a,b] [--verbose]

Every DIR/<name>/<version>/model.onnx is served as model <name> (the highest numeric version when
there are several; --models keeps only the named ones). config.pbtxt is not read: names, datatypes
and shapes come from the ONNX graph, as onnxruntime reports them. Each model gets one onnxruntime
session on the CPU provider with the session options of the app's CPU sessions (intra-op threads
--threads, one inter-op thread, sequential execution, all graph optimisations, no spinning), so
with the same onnxruntime version (requirements.txt) the outputs are bit-identical to the app's on
the same CPU.

Port 0 lets the OS pick a free port. Once the server accepts connections it prints exactly one line
to stdout, `LISTENING http://HOST:PORT`, and flushes; everything else (logs, errors) goes to
stderr. SIGTERM or SIGINT stops it: it stops accepting, lets running requests finish (a few seconds
at most) and exits with status 0. A bad command line or an unusable repository exits with status 2,
a model that does not load or a port that cannot be bound with status 1.

Endpoints (KServe's): GET /v2 (server metadata), GET /v2/health/live, GET /v2/health/ready,
GET /v2/models/<name> (model metadata), GET /v2/models/<name>/ready, POST /v2/models/<name>/infer.
Inference takes JSON or the binary tensor data extension (Inference-Header-Content-Length), runs
only the requested outputs (all when none are named) and answers in binary for the outputs that ask
for it (per-output `binary_data`, or request-level `binary_data_output` for those that do not say).
Bad requests get a 4xx with the v2 error body {"error": "..."}.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("kserve_onnx")

# onnxruntime element types -> v2 datatypes (the v2 spelling of the Open Inference Protocol).
ORT_TO_V2 = {
    "tensor(bool)": "BOOL",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}
V2_TO_NUMPY = {
    "BOOL": np.dtype(np.bool_),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}
# Which numpy kinds of JSON data each datatype accepts (an int is a valid float; a float is not a valid int).
JSON_KINDS = {"BOOL": "b", "BYTES": "USO"}
JSON_KINDS.update({t: "iu" for t in ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")})
JSON_KINDS.update({t: "iuf" for t in ("FP16", "FP32", "FP64")})

# How long a stopping server waits for running requests before it cancels them.
GRACE_S = 5


class UsageError(Exception):
    """A bad command line or model repository (exit status 2)."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str  # v2 spelling
    shape: tuple[int, ...]  # -1 for symbolic or unknown dimensions

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def tensor_spec(node: Any, model: str) -> TensorSpec:
    datatype = ORT_TO_V2.get(node.type)
    if datatype is None:
        raise RuntimeError(f"model '{model}': tensor '{node.name}' has type {node.type}, which the v2 protocol (or KServe) cannot carry")
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (node.shape or []))
    return TensorSpec(node.name, datatype, shape)


def find_models(repository: Path, only: list[str] | None) -> dict[str, tuple[int, Path]]:
    """name -> (version, path of model.onnx) for each DIR/<name>/<version>/model.onnx, highest version."""
    if not repository.is_dir():
        raise UsageError(f"model repository {repository} is not a directory")
    found: dict[str, tuple[int, Path]] = {}
    for entry in sorted(repository.iterdir()):
        if not entry.is_dir():
            continue
        versions = [int(v.name) for v in entry.iterdir() if v.is_dir() and v.name.isdigit() and (v / "model.onnx").is_file()]
        if versions:
            version = max(versions)
            found[entry.name] = (version, entry / str(version) / "model.onnx")
    if only is not None:
        missing = [name for name in only if name not in found]
        if missing:
            have = ", ".join(found) or "none"
            raise UsageError(f"not in {repository} (no <name>/<version>/model.onnx): {', '.join(missing)}; found: {have}")
        found = {name: found[name] for name in only}
    if not found:
        raise UsageError(f"no models in {repository}: expected <name>/<version>/model.onnx folders (as `lacuna models export-server` writes)")
    return found


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kserve_onnx.py",
        description="Serve the ONNX networks of a Triton-style model repository over the KServe v2 REST protocol (KServe + onnxruntime, CPU).",
    )
    parser.add_argument("--model-repository", required=True, type=Path, help="folder with <name>/<version>/model.onnx (lacuna models export-server)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 or :: exposes the server)")
    parser.add_argument("--port", default=0, type=int, help="port to listen on; 0 (the default) lets the OS pick one")
    parser.add_argument("--threads", default=1, type=int, help="onnxruntime intra-op threads per model (default 1)")
    parser.add_argument("--delay-ms", default=0.0, type=float, help="sleep this long before each inference, to simulate a slow server")
    parser.add_argument("--models", default=None, help="comma-separated model names to serve (default: all in the repository)")
    parser.add_argument("--verbose", action="store_true", help="log every request (access log and KServe's latency lines) to stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.delay_ms < 0:
        parser.error("--delay-ms must not be negative")
    if args.models is not None:
        args.models = [m.strip() for m in args.models.split(",") if m.strip()]
        if not args.models:
            parser.error("--models names no model")
    return args


def main(argv: list[str]) -> int:
    # Until the server runs, SIGINT/SIGTERM just end the process (nothing to clean up yet).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: sys.exit(0))
    try:
        args = parse_args(argv)
        models = find_models(args.model_repository, args.models)
    except UsageError as e:
        print(f"kserve_onnx: {e}", file=sys.stderr, flush=True)
        return 2

    # kserve.model_server parses sys.argv with its own argparse parser when it is imported; it must
    # not see (or half-match) ours.
    sys.argv = sys.argv[:1]
    # FastAPI deprecates the ORJSONResponse that KServe's app is built with (harmless; said once per process)
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime as ort
    import onnxruntime.capi.onnxruntime_pybind11_state as ort_errors
    import uvicorn
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    import kserve.logging as kserve_logging
    from kserve import Model
    from kserve.errors import InvalidInput
    from kserve.model_repository import ModelRepository
    from kserve.protocol.dataplane import DataPlane
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse, RequestedOutput
    from kserve.protocol.model_repository_extension import ModelRepositoryExtension
    from kserve.protocol.rest.server import RESTServer

    configure_logging(kserve_logging, args.verbose)

    def binary_outputs(request: InferRequest) -> bool:
        """The request-level binary_data_output parameter (default for the outputs that do not say)."""
        value = request.use_binary_outputs
        if not isinstance(value, bool):
            raise InvalidInput("parameter binary_data_output must be true or false")
        return value

    class OnnxModel(Model):
        """One ONNX network behind KServe's v2 endpoints."""

        def __init__(self, name: str, path: Path, version: int, threads: int, delay_ms: float):
            super().__init__(name)
            self.path = path
            self.version = version
            self.threads = threads
            self.delay_s = delay_ms / 1000.0
            self.session: Any = None
            self.inputs: dict[str, TensorSpec] = {}
            self.outputs: dict[str, TensorSpec] = {}

        def load(self) -> bool:
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=["CPUExecutionProvider"])
            self.inputs = {n.name: tensor_spec(n, self.name) for n in self.session.get_inputs()}
            self.outputs = {n.name: tensor_spec(n, self.name) for n in self.session.get_outputs()}
            self.ready = True
            return self.ready

        def stop(self) -> None:
            self.ready = False
            self.session = None

        def get_input_types(self) -> list[dict[str, Any]]:
            return [spec.metadata() for spec in self.inputs.values()]

        def get_output_types(self) -> list[dict[str, Any]]:
            return [spec.metadata() for spec in self.outputs.values()]

        def feeds(self, request: InferRequest) -> dict[str, np.ndarray]:
            seen: dict[str, np.ndarray] = {}
            for item in request.inputs:
                spec = self.inputs.get(item.name)
                if spec is None:
                    raise InvalidInput(f"model '{self.name}' has no input '{item.name}' (its inputs: {', '.join(self.inputs)})")
                if item.name in seen:
                    raise InvalidInput(f"input '{item.name}' is given twice")
                seen[item.name] = self.tensor(spec, item)
            missing = [name for name in self.inputs if name not in seen]
            if missing:
                raise InvalidInput(f"missing input(s) {', '.join(missing)} for model '{self.name}' (it takes {', '.join(self.inputs)})")
            return seen

        def tensor(self, spec: TensorSpec, item: Any) -> np.ndarray:
            what = f"input '{spec.name}'"
            if item.datatype != spec.datatype:
                raise InvalidInput(f"{what} has datatype {item.datatype}, model '{self.name}' expects {spec.datatype}")
            shape = item.shape
            if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
                raise InvalidInput(f"{what} has shape {shape!r}: expected a list of non-negative integers")
            if len(shape) != len(spec.shape):
                raise InvalidInput(f"{what} has rank {len(shape)} (shape {shape}), model '{self.name}' expects rank {len(spec.shape)} {list(spec.shape)}")
            for got, want in zip(shape, spec.shape):
                if want != -1 and got != want:
                    raise InvalidInput(f"{what} has shape {shape}, model '{self.name}' expects {list(spec.shape)}")
            dtype = V2_TO_NUMPY[spec.datatype]
            data = item.data
            if data is None:
                raise InvalidInput(f"{what} has no data")
            if isinstance(data, np.ndarray):
                array = data
            else:
                try:
                    array = np.asarray(data)
                except (ValueError, TypeError) as e:
                    raise InvalidInput(f"{what}: data is not a (nested) list of {spec.datatype} values ({e})") from None
                if array.size and array.dtype.kind not in JSON_KINDS[spec.datatype]:
                    raise InvalidInput(f"{what}: data holds {array.dtype.name} values, not {spec.datatype}")
            if array.size != int(np.prod(shape, dtype=np.int64)):
                raise InvalidInput(f"{what}: {array.size} values for shape {shape} ({int(np.prod(shape, dtype=np.int64))} needed)")
            try:
                return np.ascontiguousarray(array.astype(dtype, copy=False).reshape(shape))
            except (ValueError, TypeError, OverflowError) as e:
                raise InvalidInput(f"{what}: cannot convert the data to {spec.datatype} ({e})") from None

        def requested(self, request: InferRequest) -> list[RequestedOutput] | None:
            """The requested outputs, each with an explicit binary_data (request-level default applied)."""
            if not request.request_outputs:
                return None
            default = binary_outputs(request)
            wanted: list[RequestedOutput] = []
            for out in request.request_outputs:
                if out.name not in self.outputs:
                    raise InvalidInput(f"model '{self.name}' has no output '{out.name}' (its outputs: {', '.join(self.outputs)})")
                if any(w.name == out.name for w in wanted):
                    raise InvalidInput(f"output '{out.name}' is requested twice")
                parameters = dict(out.parameters or {})
                binary = parameters.get("binary_data", default)
                if not isinstance(binary, bool):
                    raise InvalidInput(f"output '{out.name}': parameter binary_data must be true or false")
                parameters["binary_data"] = binary
                wanted.append(RequestedOutput(name=out.name, parameters=parameters))
            return wanted

        async def predict(self, payload: Any, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None) -> InferResponse:
            if not isinstance(payload, InferRequest):
                raise InvalidInput("this server speaks the v2 protocol only: POST /v2/models/<name>/infer")
            if self.session is None:
                raise InvalidInput(f"model '{self.name}' is not loaded")
            feeds = self.feeds(payload)
            requested = self.requested(payload)
            names = [r.name for r in requested] if requested else list(self.outputs)
            if self.delay_s > 0:
                await asyncio.sleep(self.delay_s)
            session = self.session
            loop = asyncio.get_running_loop()
            try:
                results = await loop.run_in_executor(None, session.run, names, feeds)
            except (ort_errors.InvalidArgument, ort_errors.Fail) as e:
                # onnxruntime's own checks: an index out of range, dimensions that do not agree across inputs
                raise InvalidInput(f"model '{self.name}' cannot run on these inputs: {e}") from None
            outputs = [InferOutput(name=n, shape=list(r.shape), datatype=self.outputs[n].datatype, data=np.asarray(r)) for n, r in zip(names, results)]
            return InferResponse(
                response_id=payload.id or str(uuid.uuid4()),
                model_name=self.name,
                model_version=str(self.version),
                infer_outputs=outputs,
                use_binary_outputs=binary_outputs(payload),
                requested_outputs=requested,
            )

    class OnnxDataPlane(DataPlane):
        """KServe's data plane, with malformed binary-extension requests answered 400 instead of 500."""

        def decode_inference_request(self, body: Any, headers: dict, model_name: str) -> InferRequest:
            try:
                return super().decode_inference_request(body, headers, model_name)
            except InvalidInput:
                raise
            except (KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
                raise InvalidInput(f"malformed inference request (binary tensor data extension): {type(e).__name__}: {e}") from None

    async def validation_error_handler(_: Any, exc: RequestValidationError) -> JSONResponse:
        # FastAPI answers 422 {"detail": [...]}; v2 clients expect {"error": "..."}.
        errors = exc.errors()
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if exc.body in (None, b"", ""):
            message = "empty request body"
        elif bad_json is not None:
            ctx = bad_json.get("ctx") or {}
            where = [p for p in bad_json.get("loc", ()) if isinstance(p, int)]
            message = f"request body is not valid JSON ({ctx.get('error', 'decode error')}{f' at byte {where[0]}' if where else ''})"
        else:
            parts = []
            for err in errors:
                loc = err.get("loc", ())
                if "bytes" in loc:
                    continue  # the other branch of Union[InferenceRequest, bytes]
                path = ".".join(str(p) for p in loc if p not in ("body", "InferenceRequest"))
                parts.append(f"{path + ': ' if path else ''}{err.get('msg', 'invalid')}")
            message = "; ".join(parts[:5]) or "invalid request body"
        log.info("rejected request: %s", message)
        return JSONResponse(status_code=400, content={"error": f"invalid inference request: {message}"})

    async def invalid_input_handler(_: Any, exc: InvalidInput) -> JSONResponse:
        # KServe's answer (400 {"error": ...}), logged in one line instead of a traceback per bad request
        log.info("rejected request: %s", exc)
        return JSONResponse(status_code=400, content={"error": str(exc)})

    async def http_error_handler(_: Any, exc: HTTPException) -> JSONResponse:
        # FastAPI's own 4xx (unknown route, wrong method, unparsable body) in the v2 error form
        return JSONResponse(status_code=exc.status_code, content={"error": str(exc.detail)}, headers=getattr(exc, "headers", None))

    # Models first: a model that does not load stops the server before it listens.
    registry = ModelRepository()
    for name, (version, path) in models.items():
        model = OnnxModel(name, path, version, args.threads, args.delay_ms)
        try:
            model.load()
        except Exception as e:
            log.error("cannot load model '%s' from %s: %s", name, path, e)
            return 1
        model.enable_latency_logging = args.verbose
        registry.update(model)
        ins = ", ".join(f"{s.name} {s.datatype} {list(s.shape)}" for s in model.inputs.values())
        outs = ", ".join(f"{s.name} {s.datatype} {list(s.shape)}" for s in model.outputs.values())
        log.info("loaded %s version %d from %s: inputs %s; outputs %s", name, version, path, ins, outs)

    try:
        sock = bind(args.host, args.port)
    except OSError as e:
        log.error("cannot listen on %s port %d: %s", args.host, args.port, e)
        return 1

    dataplane = OnnxDataPlane(model_registry=registry)
    rest = RESTServer(
        "kserve.model_server:app",
        dataplane,
        ModelRepositoryExtension(model_registry=registry),
        http_port=sock.getsockname()[1],
        workers=1,
        grace_period=GRACE_S,
    )
    rest.create_application()  # KServe's FastAPI app: its middlewares, v1/v2 endpoints and error handlers
    import kserve.model_server

    app = kserve.model_server.app
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(InvalidInput, invalid_input_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=1,
        log_config=None,  # logging is configured above
        access_log=args.verbose,
        timeout_graceful_shutdown=GRACE_S,
        loop="asyncio",
    )
    server = uvicorn.Server(config)

    # uvicorn catches SIGINT/SIGTERM while it serves, shuts down gracefully, then re-raises the
    # signal against the handler that was there before. That one (also the handler until uvicorn
    # has installed its own) asks the server to stop and nothing more, so a stopped server exits 0
    # instead of dying by the signal.
    stopped: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        stopped.append(signum)
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)

    url_host = f"[{host}]" if ":" in host else host

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.005)
        if server.started and not server.should_exit:
            print(f"LISTENING http://{url_host}:{port}", flush=True)
            log.info("serving %s on http://%s:%d (delay %g ms, %d thread(s) per model)", ", ".join(models), url_host, port, args.delay_ms, args.threads)
        await task

    try:
        asyncio.run(serve())
    finally:
        for name in list(registry.get_models()):
            registry.unload(name)
        sock.close()
    log.info("stopped%s", f" ({signal.Signals(stopped[0]).name})" if stopped else "")
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: one the OS picks)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def configure_logging(kserve_logging: Any, verbose: bool) -> None:
    """KServe's logging setup, with every handler on stderr (stdout carries the LISTENING line only)."""
    config = {**kserve_logging.KSERVE_LOG_CONFIG}
    config["handlers"] = {name: {**handler, "stream": "ext://sys.stderr"} for name, handler in config["handlers"].items()}
    config["loggers"] = {
        **config["loggers"],
        "kserve_onnx": {"handlers": ["kserve"], "level": "INFO", "propagate": False},
    }
    if not verbose:
        # one line per request (timing middleware, access log) is noise for tests and benchmarks,
        # and a stderr pipe that nobody reads would fill up and stall the server
        config["loggers"]["kserve.trace"] = {**config["loggers"]["kserve.trace"], "level": "WARNING"}
        config["loggers"]["uvicorn.access"] = {**config["loggers"]["uvicorn.access"], "level": "WARNING"}
    kserve_logging.configure_logging(config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
