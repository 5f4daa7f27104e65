#!/usr/bin/env python3
"""oci_server.py — a small OCI registry over an image layout, with faults.

  oci_server.py layout DIR SPEC...
      writes an OCI image layout at DIR: one uncompressed tar layer made by
      oci_layer.py from SPEC... (its syntax), a linux/amd64 config, tag "1".
  oci_server.py serve PORT CERT KEY DIR MODE
      serves DIR's image under any repository name over HTTPS on
      127.0.0.1:PORT (the distribution API a pull needs: /v2/, manifests by
      tag or digest, blobs). MODE:
        ok              answer everything
        stall-blob      blobs: the headers and half the bytes, then silence
        stall-manifest  manifests: the headers and a few bytes, then silence
        silent          accept TCP connections and never answer (no TLS)
Every request is logged to stderr as "METHOD path".
"""
import hashlib
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def blob_put(d, data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}


def make_layout(d, specs):
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    tar = os.path.join(d, "layer.tar")
    subprocess.check_call([sys.executable, os.path.join(HERE, "oci_layer.py"), tar] + specs)
    with open(tar, "rb") as f:
        layer = f.read()
    os.unlink(tar)
    ld = blob_put(d, layer)
    cfg = blob_put(d, json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [ld["digest"]]}}).encode())
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
           "layers": [dict(ld, mediaType="application/vnd.oci.image.layer.v1.tar")]}
    md = blob_put(d, json.dumps(man).encode())
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(
            md, mediaType=man["mediaType"],
            annotations={"org.opencontainers.image.ref.name": "1"})]}, f)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    layout = ""
    mode = "ok"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body=b"", ctype="application/json", digest=None, stall=False):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command == "HEAD":
            return
        if stall:
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
            time.sleep(3600)
            return
        self.wfile.write(body)

    def blob(self, digest):
        if not digest.startswith("sha256:") or "/" in digest:
            return None
        try:
            with open(os.path.join(self.layout, "blobs", "sha256", digest[7:]), "rb") as f:
                return f.read()
        except OSError:
            return None

    def do_GET(self):
        sys.stderr.write("%s %s\n" % (self.command, self.path))
        sys.stderr.flush()
        p = self.path.split("?")[0]
        if p in ("/v2/", "/v2"):
            return self.answer(200, b"{}")
        parts = p.split("/")
        if len(parts) >= 5 and parts[1] == "v2" and parts[-2] == "manifests":
            ref = parts[-1]
            with open(os.path.join(self.layout, "index.json")) as f:
                idx = json.load(f)
            for m in idx["manifests"]:
                name = m.get("annotations", {}).get("org.opencontainers.image.ref.name")
                if ref in (name, m["digest"]):
                    return self.answer(200, self.blob(m["digest"]), m["mediaType"],
                                       m["digest"], self.mode == "stall-manifest")
            return self.answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        if len(parts) >= 5 and parts[1] == "v2" and parts[-2] == "blobs":
            data = self.blob(parts[-1])
            if data is None:
                return self.answer(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
            big = len(data) > 1024  # the layer, not the config
            return self.answer(200, data, "application/octet-stream", parts[-1],
                               self.mode == "stall-blob" and big)
        return self.answer(404, b"{}")

    do_HEAD = do_GET


def silent(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    held = []
    while True:
        c, _ = s.accept()
        sys.stderr.write("accepted\n")
        sys.stderr.flush()
        held.append(c)


def main():
    if sys.argv[1] == "layout":
        make_layout(sys.argv[2], sys.argv[3:])
        return
    port, cert, key, layout, mode = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], \
        sys.argv[6]
    if mode == "silent":
        silent(port)
        return
    Handler.layout, Handler.mode = layout, mode
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    threading.stack_size(256 * 1024)
    main()
