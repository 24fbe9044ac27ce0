#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A power strip emulator for fence_ipstrip's tests (and the lab).

One process, one set of outlets, every protocol fence_ipstrip speaks:

  HTTP (and HTTPS with --https):  ESPurna  /api/relay/N, /api/relay (apikey = password), as
                                           --espurna-firmware answers: 1.14 (1.13/1.14) or 1.15
                                  Tasmota  /cm?cmnd=PowerN, Status, FriendlyNameN, Backlog
                                           with Delay (user/password in the query; a wrong
                                           one answered 401, or 200 with --tasmota-auth-reply)
                                  Shelly   /rpc/Switch.GetStatus, Switch.Set (with toggle_after),
                                           Switch.GetConfig, Shelly.GetStatus, Shelly.GetConfig
                                           (digest SHA-256, user admin)
                                  NETIO    /netio.json  (GET, POST with Action 0-4; HTTP Basic;
                                           403 to a POST by the read-only user)
  SNMP v1/v2c/v3 over UDP:        APC PowerNet MIB, rack PDU or MasterSwitch (--apc-model);
                                  v3 users u-noauth, u-md5, u-sha, u-{md5,sha}-{des,aes}

Outlets are numbered from 1; ESPurna relays and Shelly switch ids count from 0, so
outlet N is relay/id N-1 there, as on a real one-relay-per-outlet device.

Outlet names (--names) show where each firmware shows them: Tasmota's FriendlyName (at most
8, as Tasmota keeps), Shelly's switch `name` in Switch.GetConfig and Shelly.GetConfig, NETIO's
output Name, APC's outlet name table. ESPurna's HTTP API has no relay names.

Power-cycle orders, as the firmware documents them: APC immediateReboot (3) and NETIO
Action 2 (short off) keep the outlet off for --cycle-time seconds (the strip's own reboot
duration; NETIO reports it as the output's Delay); Tasmota `Backlog Power<N> Off; Delay <d>;
Power<N> On` runs its commands in order in the background, Delay in tenths of a second;
Shelly Switch.Set with toggle_after flips the output back after that many seconds. Each
cycle order is recorded in /state "cycles" as [outlet, order], and the off and on it causes
in "history".

A control API on its own port (always up, never faulty) lets a test read and set the
outlets and inject faults:

  GET  /state                         {"outlets": {"1": {"name": .., "on": ..}}, "fault": ..,
                                       "history": [[outlet, on]..], "cycles": [[outlet, order]..]}
  POST /set      {"outlet": 1, "on": true}
  POST /fault    {"fault": "timeout"|"refuse"|"http500"|"malformed"|"auth"|"stuck",
                  "outlet": N (for stuck)}
  POST /clear
  POST /forget                        clears history, cycles and the order count

Faults: timeout (requests are read and never answered), refuse (the HTTP and SNMP sockets
are closed, so connections are refused), http500 (every HTTP request fails with 500,
SNMP answers genErr), malformed (HTTP 200 with a body that is not what the protocol says,
SNMP datagrams of garbage), auth (every credential is rejected), stuck (the outlet ignores
OFF orders and stays ON).

Secrets (password, communities) come from a file (--secrets FILE, lines key=value:
password, username, community, community_ro, priv_password; ro_username and ro_password for
a NETIO user with read access only), never
from the command line, so that they do not show in ps. Request logs never show queries.

--hook 'CMD {outlet} {name} {state}' runs a command (no shell; placeholders substituted
per argument) whenever an outlet changes state: in the lab, `lab/power {name} {state}`
makes the outlet drive a VM's power.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets as pysecrets
import shlex
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()


class Strip:
    def __init__(self, n, names, switch_delay, hook):
        self.outlets = {
            i: {"name": names[i - 1] if i - 1 < len(names) else "outlet%d" % i, "on": True}
            for i in range(1, n + 1)
        }
        self.pending = {}
        self.fault = None
        self.stuck = set()
        self.switch_delay = switch_delay
        self.hook = hook
        self.orders = 0
        self.history = []
        self.cycles = []

    def state(self, i):
        with LOCK:
            self._settle()
            return self.outlets[i]["on"]

    def _settle(self):
        now = time.monotonic()
        for i, (on, when) in list(self.pending.items()):
            if now >= when:
                del self.pending[i]
                self._apply(i, on)

    def _apply(self, i, on):
        if self.outlets[i]["on"] == on:
            return
        self.outlets[i]["on"] = on
        self.history.append([i, on])
        log("outlet %d (%s) -> %s" % (i, self.outlets[i]["name"], "ON" if on else "OFF"))
        if self.hook:
            argv = [
                a.format(outlet=i, name=self.outlets[i]["name"], state="on" if on else "off")
                for a in shlex.split(self.hook)
            ]
            try:
                r = subprocess.run(argv, timeout=60, capture_output=True, text=True)
                if r.returncode != 0:
                    log("hook %s exited %d: %s" % (argv[0], r.returncode, r.stderr.strip()[-200:]))
            except (OSError, subprocess.TimeoutExpired) as e:
                log("hook %s failed: %s" % (argv[0], e))

    def order(self, i, on):
        """A switching order from a client: applied after switch_delay, unless stuck."""
        with LOCK:
            # Orders already due take effect first, so that none is overwritten unseen.
            self._settle()
            self.orders += 1
            if not on and i in self.stuck:
                log("outlet %d is stuck ON, ignoring OFF" % i)
                return
            if self.switch_delay <= 0:
                self.pending.pop(i, None)
                self._apply(i, on)
            else:
                self.pending[i] = (on, time.monotonic() + self.switch_delay)

    def cycle(self, i, secs, order, first=False):
        """A power-cycle order: `first` now, the opposite after secs (the device's own timer)."""
        with LOCK:
            self.cycles.append([i, order])
        log("outlet %d: %s, back after %.1fs" % (i, order, secs))
        self.order(i, first)
        t = threading.Timer(secs, self.order, (i, not first))
        t.daemon = True
        t.start()

    def snapshot(self):
        with LOCK:
            self._settle()
            return {
                "outlets": {str(i): dict(o) for i, o in self.outlets.items()},
                "fault": self.fault,
                "stuck": sorted(self.stuck),
                "orders": self.orders,
                "history": list(self.history),
                "cycles": list(self.cycles),
            }


def log(msg):
    sys.stderr.write("ipstrip-emulator: %s\n" % msg)
    sys.stderr.flush()


# ------------------------------------------------------------------ HTTP faces ----


def sha256hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def digest_params(h):
    out = {}
    rest = h.strip()
    if not rest.startswith("Digest"):
        return None
    rest = rest[len("Digest"):]
    for part in _split_params(rest):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip().lower()] = v.strip().strip('"')
    return out


def _split_params(s):
    parts, cur, quoted = [], "", False
    for c in s:
        if c == '"':
            quoted = not quoted
        if c == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    parts.append(cur)
    return parts


class Handler(BaseHTTPRequestHandler):
    server_version = "ipstrip-emulator"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        # The query may hold credentials (Tasmota, ESPurna): log the path only.
        path = self.path.split("?", 1)[0]
        log("%s %s %s" % (self.command, path, args[1] if len(args) > 1 else ""))

    def reply(self, code, body, ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def faulty(self):
        """Applies the HTTP faces' faults; True when the request was handled."""
        fault = STRIP.fault
        if fault == "timeout":
            time.sleep(3600)
            return True
        if fault == "http500":
            self.reply(500, "Internal Server Error", "text/plain")
            return True
        if fault == "malformed":
            self.reply(200, "<html><body>Login page</body></html>", "text/html")
            return True
        return False

    def outlet(self, i):
        if i not in STRIP.outlets:
            return None
        return i

    def do_GET(self):
        self.route("GET", b"")

    def do_PUT(self):
        self.route("PUT", self.body())

    def do_POST(self):
        self.route("POST", self.body())

    def route(self, method, body):
        if self.faulty():
            return
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        path = url.path
        try:
            if path.startswith("/api/relay"):
                return self.espurna(method, path, q, body)
            if path == "/cm":
                return self.tasmota(q)
            if path.startswith("/rpc/"):
                return self.shelly(method, path, q)
            if path == "/netio.json":
                return self.netio(method, body)
        except (ValueError, KeyError) as e:
            return self.reply(400, {"error": "bad request: %s" % type(e).__name__})
        self.reply(404, "Not Found", "text/plain")

    # ESPurna, as the firmware generation given by --espurna-firmware answers.
    def espurna(self, method, path, q, body):
        form = {}
        if method == "PUT":
            form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
        # Both generations read apikey from the form body of a PUT, from the query otherwise.
        key = form.get("apikey") if method == "PUT" else q.get("apikey")
        keyed = STRIP.fault != "auth" and key == SECRETS.get("password", "")
        if ESPURNA_FIRMWARE == "1.14":
            return self.espurna_114(method, path, q, form, keyed)
        return self.espurna_115(method, path, form, keyed)

    def espurna_relay_payload(self, i, value):
        """relayParsePayload: 0, 1, 2 (toggle) or on/off/toggle in any case; None if neither."""
        v = (value or "").strip().lower()
        if v in ("0", "off"):
            return False
        if v in ("1", "on"):
            return True
        if v in ("2", "toggle"):
            return not STRIP.state(i)
        return None

    def espurna_114(self, method, path, q, form, keyed):
        """1.13/1.14: one key per relay ("relay/N"), no all-relays endpoint; restful: only a PUT
        switches (a GET or POST with value just reads); JSON only for an Accept of exactly
        application/json."""
        parts = path.split("/")
        if len(parts) != 4 or parts[3] == "" or not parts[3].isdigit():
            return self.reply(404, "", "text/plain")
        relay = int(parts[3])
        i = self.outlet(relay + 1)
        if i is None:
            return self.reply(404, "", "text/plain")
        if not keyed:
            return self.reply(403, "", "text/plain")
        if method == "PUT" and "value" in form:
            on = self.espurna_relay_payload(i, form["value"])
            if on is not None:  # a wrong payload is logged and ignored
                STRIP.order(i, on)
        v = 1 if STRIP.state(i) else 0
        if (self.headers.get("Accept") or "") == "application/json":
            return self.reply(200, '{ "relay/%d": %d }' % (relay, v))
        return self.reply(200, str(v), "text/plain")

    def espurna_115(self, method, path, form, keyed):
        """1.15 (current): /api/relay is JSON only, {"relayStatus": [...]}; /api/relay/+ is
        text only. An Accept header without the type or */* gets 406."""
        accept = self.headers.get("Accept")
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0]

        def accepts(t):
            return accept is None or "*/*" in accept or t in accept

        if path == "/api/relay":
            # A JSON handler: not taken (so 404) without the key, or for other methods.
            if not keyed or method != "GET":
                return self.reply(404, "", "text/plain")
            if not accepts("application/json"):
                return self.reply(406, "application/json", "text/plain")
            states = [1 if STRIP.state(i) else 0 for i in sorted(STRIP.outlets)]
            return self.reply(200, json.dumps({"relayStatus": states}, separators=(",", ":")))
        parts = path.split("/")
        if len(parts) != 4 or parts[3] == "":
            return self.reply(404, "", "text/plain")
        # A text handler takes GET, and PUT only as a form.
        if method not in ("GET", "PUT") or (method == "PUT" and ctype != "application/x-www-form-urlencoded"):
            return self.reply(404, "", "text/plain")
        if not keyed:
            return self.reply(403, "", "text/plain")
        if not accepts("text/plain"):
            return self.reply(406, "text/plain", "text/plain")
        i = self.outlet(int(parts[3]) + 1) if parts[3].isdigit() else None
        if i is None:  # the id does not parse as a relay: the handler fails
            return self.reply(500, "", "text/plain")
        if method == "PUT" and "value" in form:
            on = self.espurna_relay_payload(i, form["value"])
            if on is None:
                return self.reply(500, "", "text/plain")
            STRIP.order(i, on)
        return self.reply(200, "1" if STRIP.state(i) else "0", "text/plain")

    # Tasmota: cm?user=..&password=..&cmnd=Power1%20Off
    def tasmota(self, q):
        if STRIP.fault == "auth" or (
            "password" in SECRETS
            and (q.get("user") != SECRETS.get("username", "admin") or q.get("password") != SECRETS["password"])
        ):
            # HandleHttpCommand: 401 in current firmware, 200 in older firmware.
            return self.reply(TASMOTA_AUTH_REPLY, {"WARNING": "Need user=<username>&password=<password>"})
        raw = q.get("cmnd", "").strip()
        word = raw.split(" ", 1)[0].lower()
        if word in ("backlog", "backlog0", "backlog1"):
            return self.tasmota_backlog(raw.split(" ", 1)[1] if " " in raw else "", word != "backlog0")
        if word == "status":
            return self.reply(200, self.tasmota_status())
        if word.startswith("friendlyname") or word.startswith("fn"):
            num = word[len("friendlyname"):] if word.startswith("friendlyname") else word[2:]
            n = int(num or "1") if (num or "1").isdigit() else 0
            if not 1 <= n <= min(8, len(STRIP.outlets)):
                return self.reply(200, {"Command": "Error"})
            return self.reply(200, {"FriendlyName%d" % n: STRIP.outlets[n]["name"]})
        result = self.tasmota_power(raw)
        if result is None:
            return self.reply(200, {"Command": "Unknown"})
        return self.reply(200, result)

    def tasmota_power(self, raw):
        """Power<N> [arg]: the reply object, or None for a command that is not one.

        As CmndPower: an index above the relay count leaves the reply at {"Command":"Error"};
        an argument that is no state just shows the state."""
        cmnd = raw.split()
        if not cmnd or not cmnd[0].lower().startswith("power"):
            return None
        num = cmnd[0][5:] or "1"
        if not num.isdigit():
            return None

        def key(i):
            return "POWER" if len(STRIP.outlets) == 1 else "POWER%d" % i

        if num == "0":
            return {key(i): "ON" if STRIP.state(i) else "OFF" for i in sorted(STRIP.outlets)}
        i = self.outlet(int(num))
        if i is None:
            return {"Command": "Error"}
        if len(cmnd) > 1:
            arg = cmnd[1].lower()
            if arg in ("on", "1", "true"):
                STRIP.order(i, True)
            elif arg in ("off", "0", "false"):
                STRIP.order(i, False)
        return {key(i): "ON" if STRIP.state(i) else "OFF"}

    def tasmota_status(self):
        names = [STRIP.outlets[i]["name"] for i in sorted(STRIP.outlets)][:8]
        power = "".join("1" if STRIP.state(i) else "0" for i in sorted(STRIP.outlets, reverse=True))
        return {"Status": {"Module": 0, "DeviceName": "ipstrip-emulator", "FriendlyName": names,
                           "Topic": "tasmota_emu", "ButtonTopic": "0", "Power": power,
                           "PowerOnState": 3, "LedState": 1, "SaveData": 1, "SaveState": 1}}

    def tasmota_backlog(self, text, gaps):
        """Backlog: CmndBacklog queues the commands unchecked and answers nothing of its own, so
        the web reply is {} (the log holds no result yet); the loop then runs them one by one.
        A Delay outside 2..3600 (tenths of a second) sets no delay; a Power order the device
        cannot carry out does nothing."""
        cmds = [c.strip() for c in text.split(";") if c.strip()]
        if not cmds:
            return self.reply(200, {"Backlog": "Empty"})
        steps = []
        for c in cmds:
            parts = c.split()
            if parts[0].lower() == "delay":
                n = int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else -1
                steps.append(("delay", n / 10.0 if 2 <= n <= 3600 else 0.0, c))
            else:
                steps.append(("cmnd", 0.0, c))
        powers = [c for k, _, c in steps if k == "cmnd" and c.lower().startswith("power")]
        if powers:
            num = powers[0].split()[0][5:] or "1"
            with LOCK:
                STRIP.cycles.append([int(num) if num.isdigit() else 0, "tasmota Backlog " + "; ".join(
                    "Delay %d" % round(d * 10) if k == "delay" else c for k, d, c in steps)])

        def run():
            for k, d, c in steps:
                if k == "delay":
                    time.sleep(d)
                    continue
                self.tasmota_power(c)
                if gaps:
                    time.sleep(0.2)  # SetOption34: 200 ms between backlog commands

        threading.Thread(target=run, daemon=True).start()
        return self.reply(200, {})

    # Shelly Gen2: RPC over GET, digest authentication (SHA-256) when a password is set.
    def shelly_authorized(self):
        if "password" not in SECRETS and STRIP.fault != "auth":
            return True
        h = self.headers.get("Authorization") or ""
        p = digest_params(h) if h else None
        if not p or p.get("nonce") not in NONCES:
            return False
        ha1 = sha256hex("%s:%s:%s" % (p.get("username", ""), REALM, SECRETS.get("password", "")))
        ha2 = sha256hex("%s:%s" % (self.command, p.get("uri", "")))
        expect = sha256hex("%s:%s:%s:%s:%s:%s" % (ha1, p["nonce"], p.get("nc", ""), p.get("cnonce", ""), p.get("qop", ""), ha2))
        return (
            STRIP.fault != "auth"
            and p.get("username") == "admin"
            and p.get("uri") == self.path
            and p.get("response") == expect
        )

    def shelly(self, method, path, q):
        if not self.shelly_authorized():
            nonce = pysecrets.token_hex(8)
            NONCES.add(nonce)
            challenge = 'Digest qop="auth", realm="%s", nonce="%s", algorithm=SHA-256' % (REALM, nonce)
            return self.reply(401, {"code": 401, "message": "Unauthorized"}, headers=[("WWW-Authenticate", challenge)])
        name = path[len("/rpc/"):]
        if name == "Shelly.GetConfig":
            cfg = {"sys": {"device": {"name": "ipstrip-emulator"}}}
            for i in sorted(STRIP.outlets):
                cfg["switch:%d" % (i - 1)] = self.shelly_switch_config(i)
            return self.reply(200, cfg)
        if name == "Shelly.GetStatus":
            st = {"sys": {"uptime": int(time.monotonic())}}
            for i in sorted(STRIP.outlets):
                st["switch:%d" % (i - 1)] = {"id": i - 1, "source": "init", "output": STRIP.state(i)}
            return self.reply(200, st)
        sid = int(q.get("id", "0"))
        i = self.outlet(sid + 1)
        if i is None:
            return self.reply(500, {"code": -105, "message": "Argument 'id', value %d not found!" % sid})
        if name == "Switch.GetConfig":
            return self.reply(200, self.shelly_switch_config(i))
        if name == "Switch.GetStatus":
            return self.reply(200, {"id": sid, "source": "init", "output": STRIP.state(i), "apower": 0.0, "voltage": 230.1})
        if name == "Switch.Set":
            was = STRIP.state(i)
            on = q.get("on", "").lower()
            if on not in ("true", "false"):
                return self.reply(400, {"code": -103, "message": "Invalid argument 'on'"})
            after = q.get("toggle_after")
            if after is not None:
                try:
                    secs = float(after)
                except ValueError:
                    secs = -1
                if not secs > 0:
                    return self.reply(400, {"code": -103, "message": "Invalid argument 'toggle_after'"})
                STRIP.cycle(i, secs, "shelly Switch.Set on=%s toggle_after=%s" % (on, after), on == "true")
            else:
                STRIP.order(i, on == "true")
            return self.reply(200, {"was_on": was})
        return self.reply(404, {"code": -114, "message": "Method %s failed: No handler" % name})

    def shelly_switch_config(self, i):
        return {"id": i - 1, "name": STRIP.outlets[i]["name"], "in_mode": "follow",
                "initial_state": "match_input", "auto_on": False, "auto_off": False}

    # NETIO JSON API: HTTP Basic authentication.
    def netio(self, method, body):
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (SECRETS.get("username", "admin"), SECRETS.get("password", ""))).encode()
        ).decode()
        reader = "Basic " + base64.b64encode(
            ("%s:%s" % (SECRETS.get("ro_username", ""), SECRETS.get("ro_password", ""))).encode()
        ).decode()
        given = self.headers.get("Authorization")
        read_only = "ro_password" in SECRETS and given == reader
        if STRIP.fault == "auth" or ("password" in SECRETS and given != want and not read_only):
            return self.reply(401, "Unauthorized", "text/plain", headers=[("WWW-Authenticate", 'Basic realm="netio"')])
        if method == "POST" and read_only:
            # A user with read access only may not switch (403, "insufficient permissions").
            return self.reply(403, "Forbidden", "text/plain")
        if method == "POST":
            req = json.loads(body or b"{}")
            for o in req.get("Outputs", []):
                i = self.outlet(int(o["ID"]))
                if i is None:
                    return self.reply(400, "Bad Request", "text/plain")
                action = int(o["Action"])
                if action in (0, 1):
                    STRIP.order(i, action == 1)
                elif action == 2:  # short OFF: off for the output's Delay, then on
                    STRIP.cycle(i, CYCLE_TIME, "netio Action 2 (short off)", False)
                elif action == 3:  # short ON
                    STRIP.cycle(i, CYCLE_TIME, "netio Action 3 (short on)", True)
                elif action == 4:
                    STRIP.order(i, not STRIP.state(i))
        outputs = [
            {"ID": i, "Name": STRIP.outlets[i]["name"], "State": 1 if STRIP.state(i) else 0, "Action": 6, "Delay": int(CYCLE_TIME * 1000)}
            for i in sorted(STRIP.outlets)
        ]
        return self.reply(200, {"Agent": {"Model": "NETIO 4All", "DeviceName": "emulator", "NumOutputs": len(outputs)}, "Outputs": outputs})


REALM = "shellyplus-emulator"
NONCES = set()
CYCLE_TIME = 5.0
ESPURNA_FIRMWARE = "1.15"
TASMOTA_AUTH_REPLY = 401


# ------------------------------------------------------------------ SNMP face ----


def tlv(tag, value):
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b + value


def enc_int(v, tag=0x02):
    n = max(1, (v + (v < 0)).bit_length() // 8 + 1)
    return tlv(tag, v.to_bytes(n, "big", signed=True))


def enc_oid(oid):
    first = oid[0] * 40 + oid[1]
    out = bytearray()
    for n in [first] + list(oid[2:]):
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def dec(data):
    """Splits data into (tag, value, rest)."""
    tag, l0 = data[0], data[1]
    if l0 & 0x80:
        k = l0 & 0x7F
        n = int.from_bytes(data[2:2 + k], "big")
        h = 2 + k
    else:
        n, h = l0, 2
    if len(data) < h + n:
        raise ValueError("truncated")
    return tag, data[h:h + n], data[h + n:]


def dec_all(data):
    out = []
    while data:
        t, v, data = dec(data)
        out.append((t, v))
    return out


def dec_oid(v):
    out, n = [], 0
    for b in v:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            if not out:
                out += [min(n // 40, 2), n - 40 * min(n // 40, 2)]
            else:
                out.append(n)
            n = 0
    return tuple(out)


def oid(s):
    return tuple(int(x) for x in s.strip(".").split("."))


class Mib:
    """The objects of an APC PDU, computed from the strip's state on each read."""

    def __init__(self, model):
        self.model = model
        if model == "rpdu":
            self.sys_object_id = oid("1.3.6.1.4.1.318.1.3.4.5")
            self.status = oid("1.3.6.1.4.1.318.1.1.12.3.5.1.1.4")
            self.names = oid("1.3.6.1.4.1.318.1.1.12.3.5.1.1.2")
            self.control = oid("1.3.6.1.4.1.318.1.1.12.3.3.1.1.4")
        else:
            self.sys_object_id = oid("1.3.6.1.4.1.318.1.3.4.2")
            self.status = oid("1.3.6.1.4.1.318.1.1.4.4.2.1.3")
            self.names = oid("1.3.6.1.4.1.318.1.1.4.4.2.1.4")
            self.control = self.status

    def objects(self):
        """All objects, sorted, as (oid, (tag, encoded value))."""
        objs = {
            oid("1.3.6.1.2.1.1.1.0"): tlv(0x04, b"APC Web/SNMP Management Card (emulated)"),
            oid("1.3.6.1.2.1.1.2.0"): enc_oid(self.sys_object_id),
            oid("1.3.6.1.2.1.1.3.0"): enc_int(int(time.monotonic() * 100) & 0x7FFFFFFF, 0x43),
            oid("1.3.6.1.2.1.1.5.0"): tlv(0x04, b"ipstrip-emulator"),
        }
        if self.model == "rpdu":
            objs[oid("1.3.6.1.4.1.318.1.1.12.1.8.0")] = enc_int(len(STRIP.outlets))
        for i in sorted(STRIP.outlets):
            state = 1 if STRIP.state(i) else 2
            objs[self.status + (i,)] = enc_int(state)
            objs[self.names + (i,)] = tlv(0x04, STRIP.outlets[i]["name"].encode())
            objs[self.control + (i,)] = enc_int(state)
        return sorted(objs.items())

    def set(self, o, tag, value):
        """Returns an SNMP error status (0 = done)."""
        if o[:-1] != self.control or o[-1] not in STRIP.outlets:
            return 17 if any(o == k for k, _ in self.objects()) else 6  # notWritable / noAccess
        if tag != 0x02:
            return 7  # wrongType
        v = int.from_bytes(value, "big", signed=True)
        i = o[-1]
        if v == 1:
            STRIP.order(i, True)
        elif v == 2:
            STRIP.order(i, False)
        elif v == 3:  # immediateReboot (rPDU) / outletReboot (MasterSwitch): off, on after a while
            STRIP.cycle(i, CYCLE_TIME, "apc %s reboot (3)" % self.model, False)
        else:
            return 10  # wrongValue
        return 0


def process_pdu(mib, version, readonly, pdu_tag, pdu):
    """The response PDU for a request PDU (v1 or v2c/v3 error semantics), or None."""
    fields = dec_all(pdu)
    req_id = fields[0][1]
    binds = [dec_all(vb) for _, vb in dec_all(fields[3][1])]
    err, idx, out = 0, 0, []
    objs = mib.objects()
    for n, ((_, ov), (vt, vv)) in enumerate(binds, 1):
        o = dec_oid(ov)
        if pdu_tag == 0xA0:  # Get
            val = dict(objs).get(o)
            if val is None:
                if version == 0:
                    err, idx = err or 2, idx or n
                val = tlv(0x81, b"")
            out.append((o, val))
        elif pdu_tag == 0xA1:  # GetNext
            nxt = next(((k, v) for k, v in objs if k > o), None)
            if nxt is None:
                if version == 0:
                    err, idx = err or 2, idx or n
                out.append((o, tlv(0x82, b"")))
            else:
                out.append(nxt)
        elif pdu_tag == 0xA3:  # Set
            if readonly:
                e = 4 if version == 0 else 6
            else:
                e = mib.set(o, vt, vv)
            if e and not err:
                err, idx = (e if version != 0 or e <= 5 else 3), n
            out.append((o, tlv(vt, vv)))
        else:
            return None
    if STRIP.fault == "http500":
        err, idx = 5, 1
    if err and version == 0:
        out = [(dec_oid(ov), tlv(vt, vv)) for (_, ov), (vt, vv) in binds]
    vbl = b"".join(tlv(0x30, enc_oid(o) + v) for o, v in out)
    return tlv(0xA2, tlv(0x02, req_id) + enc_int(err) + enc_int(idx) + tlv(0x30, vbl))


def snmp_answer(mib, data):
    """The response datagram for a request, or None to stay silent."""
    t, body, _ = dec(data)
    if t != 0x30:
        return None
    parts = dec_all(body)
    if len(parts) == 4 and int.from_bytes(parts[0][1], "big") == 3:
        return USM.answer(mib, data, parts)
    if len(parts) != 3:
        return None
    version = int.from_bytes(parts[0][1], "big")
    community = parts[1][1].decode(errors="replace")
    pdu_tag, pdu = parts[2]
    if version not in (0, 1):
        return None
    readonly = community == SECRETS.get("community_ro", "public")
    if STRIP.fault == "auth" or not (readonly or community == SECRETS.get("community", "private")):
        return None  # wrong community: agents stay silent
    resp = process_pdu(mib, version, readonly, pdu_tag, pdu)
    if resp is None:
        return None
    return tlv(0x30, enc_int(version) + tlv(0x04, parts[1][1]) + resp)


# SNMPv3, user-based security model (RFC 3414; AES from RFC 3826). One user per combination
# of protocols, all with the same passwords: u-noauth, u-md5, u-sha, u-md5-des, u-md5-aes,
# u-sha-des, u-sha-aes.
USM_STATS = "1.3.6.1.6.3.15.1.1.%d.0"
UNSUPPORTED_LEVEL, NOT_IN_TIME, UNKNOWN_USER, UNKNOWN_ENGINE, WRONG_DIGEST, DECRYPT_ERROR = 1, 2, 3, 4, 5, 6


def password_to_key(hname, pw):
    pw = pw.encode()
    buf = (pw * (1048576 // len(pw) + 1))[:1048576]
    return hashlib.new(hname, buf).digest()


class Usm:
    def __init__(self):
        self.engine_id = bytes.fromhex("80001f8804") + b"ipstrip-emu"
        self.boots = 1
        self.start = time.monotonic()
        self.users = {}
        self.salt = int.from_bytes(os.urandom(4), "big")

    def setup(self):
        try:
            from Cryptodome.Cipher import AES, DES  # noqa: F401  (Debian python3-pycryptodome)
            self.have_crypto = True
        except ImportError:
            self.have_crypto = False
            log("python3-pycryptodome missing: SNMPv3 privacy users disabled")
        pw = SECRETS.get("password", "")
        ppw = SECRETS.get("priv_password", "")
        self.users[b"u-noauth"] = (None, None, None, None)
        for h, hn in (("md5", "md5"), ("sha", "sha1")):
            if len(pw) < 8:
                continue
            ak = hashlib.new(hn, password_to_key(hn, pw) + self.engine_id + password_to_key(hn, pw)).digest()
            self.users[("u-%s" % h).encode()] = (hn, ak, None, None)
            if len(ppw) >= 8 and self.have_crypto:
                pku = password_to_key(hn, ppw)
                pk = hashlib.new(hn, pku + self.engine_id + pku).digest()
                for pr in ("des", "aes"):
                    self.users[("u-%s-%s" % (h, pr)).encode()] = (hn, ak, pr, pk)

    def time(self):
        return int(time.monotonic() - self.start) + 1000

    def message(self, msg_id, flags, user, auth, priv, data_tlv, priv_params=b""):
        hn, ak = auth if auth else (None, None)
        sp = tlv(0x30, tlv(0x04, self.engine_id) + enc_int(self.boots) + enc_int(self.time())
                 + tlv(0x04, user) + tlv(0x04, b"\0" * 12 if hn else b"") + tlv(0x04, priv_params))
        header = tlv(0x30, enc_int(msg_id) + enc_int(65507) + tlv(0x04, bytes([flags])) + enc_int(3))
        msg = bytearray(tlv(0x30, enc_int(3) + header + tlv(0x04, sp) + data_tlv))
        if hn:
            at = msg.find(b"\x04\x0c" + b"\0" * 12) + 2
            msg[at:at + 12] = hmac.new(ak, bytes(msg), hn).digest()[:12]
        return bytes(msg)

    def report(self, msg_id, req_id, which, user=b"", auth=None):
        vb = tlv(0x30, enc_oid(oid(USM_STATS % which)) + enc_int(1, 0x41))
        pdu = tlv(0xA8, tlv(0x02, req_id) + enc_int(0) + enc_int(0) + tlv(0x30, vb))
        scoped = tlv(0x30, tlv(0x04, self.engine_id) + tlv(0x04, b"") + pdu)
        return self.message(msg_id, 1 if auth else 0, user, auth, None, scoped)

    def crypt(self, kind, key, boots, etime, salt, data, encrypt):
        from Cryptodome.Cipher import AES, DES
        if kind == "des":
            iv = bytes(a ^ b for a, b in zip(key[8:16], salt))
            c = DES.new(key[:8], DES.MODE_CBC, iv)
            return c.encrypt(data) if encrypt else c.decrypt(data)
        iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt
        c = AES.new(key[:16], AES.MODE_CFB, iv, segment_size=128)
        return c.encrypt(data) if encrypt else c.decrypt(data)

    def answer(self, mib, data, parts):
        header = dec_all(parts[1][1])
        msg_id = int.from_bytes(header[0][1], "big", signed=True)
        flags = header[2][1][0]
        sp = dec_all(dec(parts[2][1])[1])
        engine_id, boots, etime, user, auth_params, priv_params = (v for _, v in sp)
        boots = int.from_bytes(boots, "big", signed=True)
        etime = int.from_bytes(etime, "big", signed=True)
        data_tag, data_val = parts[3]
        req_id = b"\0"
        if not flags & 2 and data_tag == 0x30:
            try:
                req_id = dec_all(dec_all(data_val)[2][1])[0][1]
            except (ValueError, IndexError):
                pass
        if engine_id != self.engine_id:
            return self.report(msg_id, req_id, UNKNOWN_ENGINE)
        if user not in self.users:
            return self.report(msg_id, req_id, UNKNOWN_USER, user)
        hn, ak, pr, pk = self.users[user]
        level = flags & 3
        if level != (0 if hn is None else 1 if pr is None else 3):
            return self.report(msg_id, req_id, UNSUPPORTED_LEVEL, user)
        if hn:
            unsigned = bytearray(data)
            at = data.find(b"\x04\x0c" + auth_params) + 2
            unsigned[at:at + 12] = b"\0" * 12
            if STRIP.fault == "auth" or hmac.new(ak, bytes(unsigned), hn).digest()[:12] != auth_params:
                return self.report(msg_id, req_id, WRONG_DIGEST, user)
            if boots != self.boots or abs(etime - self.time()) > 150:
                return self.report(msg_id, req_id, NOT_IN_TIME, user, (hn, ak))
        if pr:
            try:
                plain = self.crypt(pr, pk, boots, etime, priv_params, data_val, False)
                _, scoped, _ = dec(plain)
            except (ValueError, IndexError):
                return self.report(msg_id, req_id, DECRYPT_ERROR, user)
        else:
            scoped = data_val
        try:
            fields = dec_all(scoped)
            pdu_tag, pdu = fields[2]
        except (ValueError, IndexError):
            return self.report(msg_id, req_id, DECRYPT_ERROR, user)
        resp = process_pdu(mib, 1, False, pdu_tag, pdu)
        if resp is None:
            return None
        scoped = tlv(0x30, tlv(0x04, self.engine_id) + tlv(0x04, b"") + resp)
        if pr:
            if pr == "des":
                self.salt = (self.salt + 1) & 0xFFFFFFFF
                salt = self.boots.to_bytes(4, "big") + self.salt.to_bytes(4, "big")
                scoped += b"\0" * (-len(scoped) % 8)
            else:
                salt = os.urandom(8)
            enc = self.crypt(pr, pk, self.boots, self.time(), salt, scoped, True)
            return self.message(msg_id, level, user, (hn, ak), pr, tlv(0x04, enc), salt)
        return self.message(msg_id, level, user, (hn, ak) if hn else None, None, scoped)


USM = Usm()


class SnmpServer:
    def __init__(self, host, port, mib):
        self.host, self.port, self.mib = host, port, mib
        self.sock = None
        self.open()

    def open(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        self.port = s.getsockname()[1]
        self.sock = s
        threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def close(self):
        if self.sock:
            s, self.sock = self.sock, None
            s.close()

    def serve(self, s):
        while True:
            try:
                data, peer = s.recvfrom(65535)
            except OSError:
                return
            if STRIP.fault == "timeout":
                continue
            if STRIP.fault == "malformed":
                s.sendto(b"\x30\x05\x02\x01\x00\xff\xff", peer)
                continue
            try:
                ans = snmp_answer(self.mib, data)
            except (ValueError, IndexError) as e:
                log("undecodable SNMP datagram: %s" % e)
                continue
            if ans:
                try:
                    s.sendto(ans, peer)
                except OSError:
                    return


# ------------------------------------------------------------------ control API ----


class HttpFace:
    """An HTTP(S) listener that can be closed and reopened (the refuse fault)."""

    def __init__(self, host, port, tls=None):
        self.host, self.port, self.tls = host, port, tls
        self.server = None
        self.open()

    def open(self):
        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            daemon_threads = True
            allow_reuse_address = True

        srv = Server((self.host, self.port), Handler)
        if self.tls:
            srv.socket = self.tls.wrap_socket(srv.socket, server_side=True)
        self.port = srv.server_address[1]
        self.server = srv
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def close(self):
        if self.server:
            srv, self.server = self.server, None
            srv.shutdown()
            srv.server_close()


FACES = []


class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, obj, code=200):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def do_GET(self):
        if self.path == "/state":
            return self.answer(STRIP.snapshot())
        self.answer({"error": "not found"}, 404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(n) or b"{}")
        with LOCK:
            if self.path == "/set":
                i = int(req["outlet"])
                STRIP.pending.pop(i, None)
                STRIP._apply(i, bool(req["on"]))
            elif self.path == "/fault":
                f = req["fault"]
                if f == "stuck":
                    STRIP.stuck.add(int(req["outlet"]))
                else:
                    STRIP.fault = f
                if f == "refuse":
                    for face in FACES:
                        face.close()
                log("fault: %s" % f)
            elif self.path == "/forget":
                STRIP.history.clear()
                STRIP.cycles.clear()
                STRIP.orders = 0
            elif self.path == "/clear":
                if STRIP.fault == "refuse":
                    for face in FACES:
                        face.open()
                STRIP.fault = None
                STRIP.stuck.clear()
                log("faults cleared")
            else:
                return self.answer({"error": "not found"}, 404)
        self.answer(STRIP.snapshot())


def read_secrets(path):
    out = {}
    if path:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    out[k.strip()] = v.strip()
    return out


def main():
    p = argparse.ArgumentParser(description="power strip emulator for fence_ipstrip tests")
    p.add_argument("--listen", default="127.0.0.1", help="address for every face")
    p.add_argument("--http", type=int, help="HTTP port (0: any free port)")
    p.add_argument("--https", type=int, help="HTTPS port (0: any free port), needs --cert and --key")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--snmp", type=int, help="SNMP UDP port (0: any free port)")
    p.add_argument("--apc-model", choices=["rpdu", "ms"], default="rpdu")
    p.add_argument("--control", type=int, default=0, help="control API port (always on 127.0.0.1)")
    p.add_argument("--outlets", type=int, default=8)
    p.add_argument("--names", default="", help="comma-separated outlet names")
    p.add_argument("--off", default="", help="comma-separated outlets that start OFF")
    p.add_argument("--switch-delay", type=float, default=0.0, help="seconds before an order takes effect")
    p.add_argument("--cycle-time", type=float, default=5.0,
                   help="seconds an APC reboot or NETIO short off keeps the outlet off")
    p.add_argument("--espurna-firmware", choices=["1.14", "1.15"], default="1.15",
                   help="ESPurna API generation: 1.14 (1.13 and 1.14) or 1.15 (current)")
    p.add_argument("--tasmota-auth-reply", type=int, choices=[200, 401], default=401,
                   help="HTTP status of Tasmota's 'Need user' reply: 401 (current) or 200 (older firmware)")
    p.add_argument("--secrets", help="file of key=value: password, username, community, community_ro")
    p.add_argument("--hook", help="command run on each state change, with {outlet} {name} {state}")
    p.add_argument("--ready-file", help="write the chosen ports here as JSON once listening")
    a = p.parse_args()

    global STRIP, SECRETS, CYCLE_TIME, ESPURNA_FIRMWARE, TASMOTA_AUTH_REPLY
    SECRETS = read_secrets(a.secrets)
    TASMOTA_AUTH_REPLY = a.tasmota_auth_reply
    ESPURNA_FIRMWARE = a.espurna_firmware
    CYCLE_TIME = a.cycle_time
    USM.setup()
    names = [n for n in a.names.split(",") if n]
    STRIP = Strip(a.outlets, names, a.switch_delay, a.hook)
    for o in a.off.split(","):
        if o.strip():
            STRIP.outlets[int(o)]["on"] = False

    ports = {}
    if a.http is not None:
        face = HttpFace(a.listen, a.http)
        FACES.append(face)
        ports["http"] = face.port
    if a.https is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        face = HttpFace(a.listen, a.https, ctx)
        FACES.append(face)
        ports["https"] = face.port
    if a.snmp is not None:
        snmp = SnmpServer(a.listen, a.snmp, Mib(a.apc_model))
        FACES.append(snmp)
        ports["snmp"] = snmp.port

    class ControlServer(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    ctl = ControlServer(("127.0.0.1", a.control), Control)
    ports["control"] = ctl.server_address[1]
    ports["pid"] = os.getpid()
    line = json.dumps(ports)
    if a.ready_file:
        tmp = a.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.rename(tmp, a.ready_file)
    print(line, flush=True)
    log("listening: %s" % line)
    try:
        ctl.serve_forever()
    except KeyboardInterrupt:
        pass


STRIP = None
SECRETS = {}

if __name__ == "__main__":
    main()
