#!/usr/bin/env python3
"""token_server.py — a Bearer token service for a test registry (the flow
Docker Hub uses: distribution.github.io/distribution/spec/auth/token/).

usage: token_server.py PORT SIGNING_KEY SIGNING_CERT ISSUER USER:PASS

GET /token?service=S&scope=repository:NAME:ACTIONS with Basic USER:PASS
answers {"token": JWT}; anonymous requests get a token with no access (so
the registry refuses them, as a private repository would); wrong
credentials get 401. The JWT is RS256, signed with the openssl CLI, its
certificate in the x5c header (the registry trusts it via rootcertbundle).
"""
import base64
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

PORT, KEY, CERT, ISSUER, CREDS = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
CERT_DER = subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"],
                          capture_output=True, check=True).stdout


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims):
    head = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(CERT_DER).decode()]}
    signing_input = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY],
                         input=signing_input.encode(), capture_output=True, check=True).stdout
    return signing_input + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/token":
            self.send_error(404)
            return
        query = parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        user = ""
        if auth.startswith("Basic "):
            if base64.b64decode(auth[6:]).decode() != CREDS:
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"details":"incorrect username or password"}')
                return
            user = CREDS.split(":")[0]
        access = []
        for scope in query.get("scope", []):
            kind, rest = scope.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            if user:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        token = jwt({"iss": ISSUER, "sub": user, "aud": query.get("service", [""])[0],
                     "exp": now + 600, "nbf": now - 60, "iat": now,
                     "jti": os.urandom(8).hex(), "access": access})
        body = json.dumps({"token": token, "expires_in": 600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
