"""Runs one aws:executeScript step's Python handler for the drift-remediation sandbox.

Reads {"script", "handler", "payload", "context"} as JSON on stdin, points boto3/botocore at the sandbox
(DRIFT_SANDBOX_ENDPOINT) for every client the script creates, calls handler(events, context) and writes
{"ok": true, "payload": <return value>} or {"ok": false, "type", "message", "traceback"} as JSON to
file descriptor 3. The script's own prints go to stdout/stderr untouched.

Debian's python3-boto3 (1.26) predates AWS_ENDPOINT_URL, so the endpoint is injected here by wrapping
botocore.session.Session.create_client (boto3.client, boto3.resource and Session.client all end there).
"""
import json
import os
import sys
import traceback


def _point_boto_at_sandbox(endpoint):
    import botocore.config
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        # Positional order: region_name, api_version, use_ssl, verify, endpoint_url, keys…, config.
        if len(args) < 5 and kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = endpoint
        if service_name == "s3" and len(args) < 9:
            path_style = botocore.config.Config(s3={"addressing_style": "path"})
            given = kwargs.get("config")
            kwargs["config"] = given.merge(path_style) if given is not None else path_style
        return original(self, service_name, *args, **kwargs)

    botocore.session.Session.create_client = create_client


def _result_stream():
    return os.fdopen(3, "w", encoding="utf-8")


def main():
    request = json.loads(sys.stdin.read())
    out = _result_stream()
    try:
        _point_boto_at_sandbox(os.environ["DRIFT_SANDBOX_ENDPOINT"])
        scope = {"__name__": "__ssm_script__"}
        exec(compile(request["script"], "script.py", "exec"), scope)
        handler = scope.get(request["handler"])
        if not callable(handler):
            raise NameError("handler function %s is not defined in the script" % request["handler"])
        value = handler(request["payload"], request["context"])
        out.write(json.dumps({"ok": True, "payload": value}, default=str))
    except BaseException as err:  # noqa: BLE001 - every failure is reported to the engine
        out.write(
            json.dumps(
                {
                    "ok": False,
                    "type": type(err).__name__,
                    "message": str(err),
                    "traceback": traceback.format_exc(),
                }
            )
        )
    finally:
        out.close()


if __name__ == "__main__":
    main()
