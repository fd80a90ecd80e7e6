"""A loopback-only HTTPS static file server for the simplestreams tests: serves DIR on 127.0.0.1 with
the given certificate, prints the port on stdout, and runs until killed."""
import functools
import http.server
import ssl
import sys

directory, cert, key = sys.argv[1:4]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


handler = functools.partial(Quiet, directory=directory)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
