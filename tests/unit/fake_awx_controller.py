"""A small stand-in for AWX's REST API on 127.0.0.1, for playbooks/awx_configure.yml.

It keeps objects in memory and answers the calls the awx.awx modules make:
list with filters (``name``, ``name__in``, ``or__id``/``or__name``, any
field), create, detail, update, the job template's ``survey_spec`` and
``credentials`` sub-resources. Objects hold exactly what was posted, as
AWX's API does, and the survey spec is stored as AWX's
``JobTemplateSurveySpec.post`` stores it (the request's data, with a string
of choices rewritten line by line). It is a model of the API for offline
tests, not AWX: it does not validate the data the way AWX's serializers do.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API = "/api/v2/"
KINDS = {
    "organizations": "organization",
    "credentials": "credential",
    "execution_environments": "execution_environment",
    "projects": "project",
    "inventories": "inventory",
    "inventory_sources": "inventory_source",
    "job_templates": "job_template",
}


class FakeController(object):
    def __init__(self):
        self.objects = {kind: {} for kind in KINDS}
        self.surveys = {}
        self.project_updates = {}
        self.credentials_of = {}
        self.writes = []
        self._next = 1
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def add(self, kind, **fields):
        with self._lock:
            return self._create(kind, fields)

    def find(self, kind, name):
        return [o for o in self.objects[kind].values() if o.get("name") == name]

    def _create(self, kind, fields):
        oid = self._next
        self._next += 1
        obj = dict(fields)
        obj.update(id=oid, type=KINDS[kind], url="%s%s/%d/" % (API, kind, oid), summary_fields={})
        obj["related"] = {sub: "%s%s/%d/%s/" % (API, kind, oid, sub) for sub in ("survey_spec", "credentials")}
        if kind == "projects":
            # Read-only fields AWX adds: a new project starts a sync at once.
            obj["scm_revision"] = ""
            obj["summary_fields"] = {"current_update": {"id": oid}}
            self.project_updates[oid] = {"id": oid, "status": "successful", "failed": False}
        self.objects[kind][oid] = obj
        return obj

    @staticmethod
    def _matches(obj, query):
        alternatives = [(k[4:], v) for k, v in query.items() if k.startswith("or__")]
        if alternatives and not any(str(obj.get(k)) == v for k, v in alternatives):
            return False
        for key, value in query.items():
            if key.startswith("or__") or key in ("page", "page_size"):
                continue
            if key.endswith("__in"):
                if str(obj.get(key[:-4])) not in value.split(","):
                    return False
            elif str(obj.get(key)) != value:
                return False
        return True

    def _handler(self):
        controller = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def _reply(self, status, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("X-API-Product-Name", "AWX")
                self.send_header("X-API-Product-Version", "24.6.1")
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _route(self):
                parts = urlsplit(self.path)
                if not parts.path.startswith(API):
                    return None, None, None, {}
                segs = [s for s in parts.path[len(API):].split("/") if s]
                kind = segs[0] if segs else None
                oid = int(segs[1]) if len(segs) > 1 and segs[1].isdigit() else None
                sub = segs[2] if len(segs) > 2 else None
                return kind, oid, sub, dict(parse_qsl(parts.query))

            def do_GET(self):
                kind, oid, sub, query = self._route()
                with controller._lock:
                    if kind == "project_updates" and oid in controller.project_updates:
                        return self._reply(200, controller.project_updates[oid])
                    if kind not in KINDS:
                        return self._reply(404, {"detail": "Not found."})
                    if oid is None:
                        found = [o for o in controller.objects[kind].values() if controller._matches(o, query)]
                        return self._reply(200, {"count": len(found), "next": None, "previous": None, "results": found})
                    obj = controller.objects[kind].get(oid)
                    if obj is None:
                        return self._reply(404, {"detail": "Not found."})
                    if sub == "survey_spec":
                        return self._reply(200, controller.surveys.get(oid, {}))
                    if sub == "credentials":
                        found = [controller.objects["credentials"][c] for c in controller.credentials_of.get(oid, [])]
                        return self._reply(200, {"count": len(found), "next": None, "previous": None, "results": found})
                    return self._reply(200, obj)

            def do_POST(self):
                kind, oid, sub = self._route()[:3]
                data = self._body()
                with controller._lock:
                    if kind not in KINDS:
                        return self._reply(404, {"detail": "Not found."})
                    controller.writes.append(("POST", self.path, data))
                    if oid is None:
                        return self._reply(201, controller._create(kind, data))
                    if sub == "survey_spec":
                        for item in data.get("spec", []):
                            if item.get("type") in ("multiplechoice", "multiselect") and isinstance(item.get("choices"), str):
                                item["choices"] = "\n".join(c for c in item["choices"].splitlines() if c.strip())
                        controller.surveys[oid] = data
                        return self._reply(200, None)
                    if sub == "credentials":
                        linked = controller.credentials_of.setdefault(oid, [])
                        if data.get("disassociate"):
                            linked.remove(data["id"])
                        elif data["id"] not in linked:
                            linked.append(data["id"])
                        return self._reply(204, None)
                    return self._reply(405, {"detail": "Method not allowed."})

            def do_PATCH(self):
                kind, oid = self._route()[:2]
                data = self._body()
                with controller._lock:
                    obj = controller.objects.get(kind, {}).get(oid)
                    if obj is None:
                        return self._reply(404, {"detail": "Not found."})
                    controller.writes.append(("PATCH", self.path, data))
                    obj.update(data)
                    return self._reply(200, obj)

            def do_DELETE(self):
                kind, oid, sub = self._route()[:3]
                with controller._lock:
                    controller.writes.append(("DELETE", self.path, None))
                    if sub == "survey_spec":
                        controller.surveys.pop(oid, None)
                    return self._reply(204, None)

        return Handler
