"""A local HTTP server for Zoo's download tests: serves the files of a folder with range requests, and can cut off
its first response after some bytes (a dropped connection). Prints its port, then one line per request.

    python3 weights_server.py FOLDER [--cut-first BYTES]
"""
import http.server
import os
import sys

folder = sys.argv[1]
cut = int(sys.argv[sys.argv.index("--cut-first") + 1]) if "--cut-first" in sys.argv else None
state = {"requests": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        state["requests"] += 1
        path = os.path.join(folder, self.path.lstrip("/"))
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(path, "rb").read()
        start = 0
        range_header = self.headers.get("Range")
        print(f"GET {self.path} range={range_header}", flush=True)
        if range_header and range_header.startswith("bytes="):
            start = int(range_header[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut is not None and state["requests"] == 1:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
