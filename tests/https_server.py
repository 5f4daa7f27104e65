#!/usr/bin/env python3
"""A real HTTPS file server for tests: python3 https_server.py PORT ROOT CERT KEY.

Serves ROOT read-only on 127.0.0.1:PORT (TLS 1.2 allowed: BearSSL has no 1.3).
Test hooks, by path prefix:
  /die-after/N/FILE   send the headers and N bytes of FILE, then drop the connection
  /status/CODE/...    answer with that HTTP status
Every request is logged to stderr as "GET path status".
"""
import http.server
import os
import ssl
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) > 3 and parts[1] == "die-after":
            n = int(parts[2])
            path = self.translate_path("/" + "/".join(parts[3:]))
            with open(path, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:n])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if len(parts) > 2 and parts[1] == "status":
            code = int(parts[2])
            body = b'{"error":"test status"}'
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))


def main():
    port, root, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    os.chdir(root)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
