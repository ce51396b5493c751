"""A local S3-compatible server for the media bucket's tests: moto's server on 127.0.0.1.

``with s3_server("baraza-media") as endpoint:`` starts it on a free port, creates the bucket and
gives the endpoint URL; the test is skipped when moto is not installed.
"""

from __future__ import annotations

import contextlib
import logging
import urllib.request
from collections.abc import Iterator

import pytest

#: Keys the fake server accepts (any will do); set in the environment variables a store reads.
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"


@contextlib.contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """The endpoint URL of a running local S3 server that holds an empty ``bucket``."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps its buckets per process: start from none (a server of an earlier test had some).
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        client.create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()
