#!/usr/bin/env python3
"""The Eclipse Paho interoperability scenarios, reimplemented on paho-mqtt.

The scenarios are those of the Paho testing project's client_test.py (MQTT
3.1.1) and client_test5.py (MQTT 5) (github.com/eclipse/paho.mqtt.testing,
interoperability/); this is our own implementation of what each one asserts,
on Debian's python3-paho-mqtt (1.6), not the suite itself. Where paho-mqtt
cannot express a scenario (a second CONNECT on one socket, a client that
stops acknowledging or pinging) a small raw MQTT client below does it.

Every wait is bounded (--timeout). An absence ("no further message") is
asserted with a barrier where one exists: a later message that must arrive
after anything that would be wrong, so the check does not depend on a sleep.

Two-client scenarios put their first client on --node and their second on
--node2 (a 3-node cluster: two different nodes). Exit status 0 when every
scenario run passed, 1 otherwise (with a summary), 2 on a usage error.
"""

import argparse
import os
import socket
import struct
import sys
import threading
import time
import traceback

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.subscribeoptions import SubscribeOptions
except ImportError:  # pragma: no cover - reported, not a traceback
    sys.stderr.write("paho_interop: python3-paho-mqtt is not installed\n")
    sys.exit(77)

TIMEOUT = 10.0  # seconds for any awaited event (--timeout)
QUIET = 1.0  # seconds of silence that stand for "nothing more" where no barrier exists


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def check_eq(got, want, what):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


# --- a paho-mqtt client with recorded events and bounded waits ---------------


class Msg:
    def __init__(self, m):
        self.topic = m.topic  # as sent: empty when only a topic alias was sent
        self.payload = m.payload
        self.qos = m.qos
        self.retain = bool(m.retain)
        self.dup = bool(m.dup)
        self.props = getattr(m, "properties", None)

    def prop(self, name, default=None):
        return getattr(self.props, name, default) if self.props is not None else default

    def __repr__(self):
        return "Msg(%r, %r, qos=%d, retain=%s)" % (self.topic, self.payload, self.qos, self.retain)


class Peer:
    """One MQTT client identity (client id) at one node; each connect() makes
    a fresh paho Client, the recorded events live across connections."""

    def __init__(self, ctx, node, client_id):
        self.ctx = ctx
        self.host, self.port = node
        self.client_id = client_id
        self.v5 = ctx.version == 5
        self.cv = threading.Condition()
        self.c = None
        self.clear()

    def clear(self):
        with self.cv:
            self.messages = []
            self.subacks = {}
            self.unsubacks = set()
            self.published = set()
            self.disconnects = []
            self.connack = None

    # callbacks (paho's network thread)
    def _on_connect(self, c, ud, flags, rc, props=None):
        with self.cv:
            self.connack = (bool(flags.get("session present")), int(getattr(rc, "value", rc)), props)
            self.cv.notify_all()

    def _on_disconnect(self, c, ud, rc, props=None):
        with self.cv:
            self.disconnects.append((int(getattr(rc, "value", rc) or 0), props))
            self.cv.notify_all()

    def _on_message(self, c, ud, m):
        with self.cv:
            self.messages.append(Msg(m))
            self.cv.notify_all()

    def _on_subscribe(self, c, ud, mid, codes, props=None):
        with self.cv:
            self.subacks[mid] = [int(getattr(x, "value", x)) for x in codes]
            self.cv.notify_all()

    def _on_unsubscribe(self, c, ud, mid, *rest):
        with self.cv:
            self.unsubacks.add(mid)
            self.cv.notify_all()

    def _on_publish(self, c, ud, mid):
        with self.cv:
            self.published.add(mid)
            self.cv.notify_all()

    def wait(self, pred, what, timeout=None):
        with self.cv:
            if not self.cv.wait_for(pred, timeout if timeout is not None else TIMEOUT):
                raise Failure("timed out waiting for %s (%s)" % (what, self.client_id))

    def connect(self, clean=True, keepalive=60, props=None, will=None, expect_ok=True):
        """Connects; returns (session_present, reason code, CONNACK properties)."""
        self.close()
        if self.v5:
            c = mqtt.Client(self.client_id, protocol=mqtt.MQTTv5, reconnect_on_failure=False)
        else:
            c = mqtt.Client(self.client_id, clean_session=clean, protocol=mqtt.MQTTv311, reconnect_on_failure=False)
        c.username_pw_set(self.ctx.username)
        c.max_inflight_messages_set(10)
        c.on_connect, c.on_disconnect, c.on_message = self._on_connect, self._on_disconnect, self._on_message
        c.on_subscribe, c.on_unsubscribe, c.on_publish = self._on_subscribe, self._on_unsubscribe, self._on_publish
        if will:
            c.will_set(will["topic"], will["payload"], will.get("qos", 0), will.get("retain", False), will.get("props"))
        with self.cv:  # packet ids start again with each connection; messages stay
            self.connack = None
            self.disconnects = []
            self.subacks, self.unsubacks, self.published = {}, set(), set()
        self.c = c
        if self.v5:
            c.connect(self.host, self.port, keepalive, clean_start=clean, properties=props)
        else:
            c.connect(self.host, self.port, keepalive)
        c.loop_start()
        self.wait(lambda: self.connack is not None or self.disconnects, "CONNACK")
        if self.connack is None:
            raise Failure("%s: connection closed before CONNACK" % self.client_id)
        if expect_ok:
            check_eq(self.connack[1], 0, "%s CONNACK reason code" % self.client_id)
        return self.connack

    def subscribe(self, subs, props=None):
        """subs: [(filter, qos or SubscribeOptions)]; returns the SUBACK codes."""
        if self.v5:
            subs = [(f, o if isinstance(o, SubscribeOptions) else SubscribeOptions(qos=o)) for f, o in subs]
        rc, mid = self.c.subscribe(subs, properties=props) if self.v5 else self.c.subscribe(subs)
        check_eq(rc, mqtt.MQTT_ERR_SUCCESS, "subscribe send")
        self.wait(lambda: mid in self.subacks, "SUBACK")
        return self.subacks[mid]

    def unsubscribe(self, filters):
        rc, mid = self.c.unsubscribe(filters)
        check_eq(rc, mqtt.MQTT_ERR_SUCCESS, "unsubscribe send")
        self.wait(lambda: mid in self.unsubacks, "UNSUBACK")

    def publish(self, topic, payload, qos=0, retain=False, props=None, wait=True):
        info = self.c.publish(topic, payload, qos, retain, props) if self.v5 else self.c.publish(
            topic, payload, qos, retain)
        check_eq(info.rc, mqtt.MQTT_ERR_SUCCESS, "publish send")
        if qos and wait:
            self.wait(lambda: info.mid in self.published, "the acknowledgement of QoS %d PUBLISH" % qos)
        return info.mid

    def disconnect(self, props=None):
        if self.c is None:
            return
        c, self.c = self.c, None
        if c.is_connected():
            if self.v5:
                c.disconnect(properties=props)
            else:
                c.disconnect()
            with self.cv:
                self.cv.wait_for(lambda: self.disconnects, TIMEOUT)
        c.loop_stop()

    def terminate(self):
        """Drops the connection without a DISCONNECT (a network failure)."""
        if self.c is None:
            return
        c, self.c = self.c, None
        sock = c.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the loop thread sees the connection end
            except OSError:
                pass  # already gone
        c.loop_stop()

    def close(self):
        if self.c is not None:
            try:
                self.disconnect()
            except Exception:
                pass
            self.c = None

    def wait_messages(self, n, what=None, timeout=None):
        self.wait(lambda: len(self.messages) >= n, what or "%d message(s)" % n, timeout)
        with self.cv:
            return list(self.messages)

    def wait_disconnect(self, what="the server's DISCONNECT", timeout=None):
        """(reason code, properties) of the connection's end. paho-mqtt 1.6
        drops the reason code of a DISCONNECT without a property length (a
        1-byte body, which is valid) and reports 7 (connection lost): use
        the raw client where that form may come."""
        self.wait(lambda: self.disconnects, what, timeout)
        return self.disconnects[0]

    def snapshot(self):
        with self.cv:
            return list(self.messages)


# --- a raw MQTT client for what paho-mqtt will not send ----------------------


def _varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def _props(v5, ptype, values):
    if not v5:
        return b""
    p = Properties(ptype)
    for k, v in (values or {}).items():
        setattr(p, k, v)
    return p.pack()


class Closed(Exception):
    pass


class Packet:
    def __init__(self, first, body):
        self.type, self.flags, self.body = first >> 4, first & 15, body


class Raw:
    """A blocking MQTT client speaking packets by hand (3.1.1 or 5)."""

    def __init__(self, ctx, node):
        self.v5 = ctx.version == 5
        self.ctx = ctx
        self.node = node
        self.sock = socket.create_connection(node, timeout=TIMEOUT)
        self.buf = b""

    def send(self, first, body):
        self.sock.sendall(bytes([first]) + _varint(len(body)) + body)

    def connect(self, client_id, clean=True, keepalive=60, props=None, will=None, proto="MQTT"):
        self.ctx.ids.setdefault(client_id, self.node)
        flags = (2 if clean else 0) | 0x80  # user name
        payload = _str(client_id)
        if will:
            flags |= 0x04 | (will.get("qos", 0) << 3)
            payload += _props(self.v5, PacketTypes.WILLMESSAGE, will.get("props")) + _str(will["topic"]) + _str(
                will["payload"])
        payload += _str(self.ctx.username)
        body = _str(proto) + bytes([5 if self.v5 else 4, flags]) + struct.pack("!H", keepalive)
        self.send(0x10, body + _props(self.v5, PacketTypes.CONNECT, props) + payload)

    def connack(self):
        p = self.read()
        check_eq(p.type, 2, "packet type (CONNACK)")
        props = None
        if self.v5:
            props = Properties(PacketTypes.CONNACK)
            props.unpack(p.body[2:])
        return bool(p.body[0] & 1), p.body[1], props

    def subscribe(self, pid, filt, qos):
        body = struct.pack("!H", pid) + _props(self.v5, PacketTypes.SUBSCRIBE, None) + _str(filt) + bytes([qos])
        self.send(0x82, body)
        p = self.read()
        check_eq(p.type, 9, "packet type (SUBACK)")
        return p.body[-1]

    def publish(self, topic, payload, qos, pid=0, props=None, dup=False, raw_props=None):
        """raw_props: the encoded property block, for values paho-mqtt refuses to encode."""
        body = _str(topic) + (struct.pack("!H", pid) if qos else b"")
        body += raw_props if raw_props is not None else _props(self.v5, PacketTypes.PUBLISH, props)
        self.send(0x30 | (8 if dup else 0) | (qos << 1), body + payload)

    def ack(self, ptype, pid):
        self.send((ptype << 4) | (2 if ptype == 6 else 0), struct.pack("!H", pid))

    def disconnect(self):
        self.send(0xE0, b"")
        self.sock.close()

    def parse_publish(self, p):
        """(topic, pid, qos, dup, props, payload) of a PUBLISH packet."""
        qos, dup = (p.flags >> 1) & 3, bool(p.flags & 8)
        n = struct.unpack("!H", p.body[:2])[0]
        topic, rest = p.body[2:2 + n], p.body[2 + n:]
        pid = 0
        if qos:
            pid, rest = struct.unpack("!H", rest[:2])[0], rest[2:]
        props = None
        if self.v5:
            props = Properties(PacketTypes.PUBLISH)
            _, used = props.unpack(rest)
            rest = rest[used:]
        return topic.decode(), pid, qos, dup, props, rest

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed()
            self.buf += chunk

    def read(self, timeout=None):
        """The next packet; socket.timeout when none came in time, Closed on EOF."""
        deadline = time.monotonic() + (timeout if timeout is not None else TIMEOUT)
        self._fill(2, deadline)
        n, mult, i = 0, 1, 1
        while True:
            self._fill(i + 1, deadline)
            b = self.buf[i]
            n += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        self._fill(i + n, deadline)
        p = Packet(self.buf[0], self.buf[i:i + n])
        self.buf = self.buf[i + n:]
        return p

    def expect_closed(self, what, timeout=None):
        """Reads until the server closes; returns the packets seen before."""
        seen = []
        try:
            while True:
                seen.append(self.read(timeout))
        except Closed:
            return seen
        except ConnectionResetError:
            return seen
        except socket.timeout:
            raise Failure("the server did not close the connection (%s)" % what)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- scenarios ----------------------------------------------------------------


class Ctx:
    """One scenario run: its version, nodes, unique names, and what to clean."""

    def __init__(self, args, version, name, seq):
        self.version = version
        self.node1, self.node2 = args.node, args.node2
        self.username = args.username
        self.nosub_username = args.nosub_username
        self.nosub_topic = args.nosubscribe_topic
        self.server_keepalive = args.server_keepalive
        self.run = "%s-%d" % (args.run_id, seq)
        self.prefix = "paho/%s/" % self.run
        self.peers, self.raws, self.ids = [], [], {}  # client id -> node
        self.name = name
        p = self.prefix
        # the suite's topic and wildcard sets, under a prefix of this run
        self.topics = [p + t for t in ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")]
        self.wild = [p + t for t in ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")]
        self.barriers = 0

    def cid(self, which):
        return "paho-%s-%s" % (self.run, which)

    def peer(self, which, node=None, client_id=None):
        """Client "a" (first) is on --node, client "b" (second) on --node2."""
        node = node or (self.node2 if which == "b" else self.node1)
        p = Peer(self, node, client_id if client_id is not None else self.cid(which))
        self.peers.append(p)
        self.ids.setdefault(p.client_id, node)
        return p

    def raw(self, which="a"):
        r = Raw(self, self.node2 if which == "b" else self.node1)
        self.raws.append(r)
        return r

    def props(self, ptype, **kw):
        p = Properties(ptype)
        for k, v in kw.items():
            setattr(p, k, v)
        return p

    def barrier(self, receiver, sender, topic):
        """Publishes a marker from sender on topic (receiver subscribes to a
        filter matching it) and waits for it at receiver; returns what the
        receiver got before the marker: anything routed to it before the
        marker has arrived by then (a server keeps one publisher's messages
        to one subscriber in order; MQTT promises it per topic, and some
        scenarios' markers ride on another topic of the same publisher)."""
        self.barriers += 1
        marker = b"barrier %d" % self.barriers
        # QoS 2: paho-mqtt hands a QoS 2 message over at its PUBREL, so a
        # QoS 1 marker could overtake an earlier QoS 2 message in on_message
        sender.publish(topic, marker, 2)
        receiver.wait(lambda: any(m.payload == marker for m in receiver.messages), "barrier message on " + topic)
        got = receiver.snapshot()
        return [m for m in got[:next(i for i, m in enumerate(got) if m.payload == marker)]
                if not m.payload.startswith(b"barrier ")]

    def cleanup(self):
        for p in self.peers:
            p.close()
        for r in self.raws:
            r.close()
        # sessions left behind (clean session 0, a session expiry): end them
        for cid, node in sorted(self.ids.items()):
            if not cid:
                continue
            try:
                q = Peer(self, node, cid)
                q.connect(clean=True, props=cprops(self, SessionExpiryInterval=0))
                q.disconnect()
            except Exception:
                pass


SCENARIOS = []


def scenario(versions=(3, 5), clients=1):
    def reg(fn):
        SCENARIOS.append((fn.__name__, versions, clients, fn))
        return fn

    return reg


def cprops(ctx, **kw):
    return ctx.props(PacketTypes.CONNECT, **kw) if ctx.version == 5 else None


def persistent(ctx):
    """v3.1.1: clean session 0; v5: clean start 0 with a long session expiry."""
    return cprops(ctx, SessionExpiryInterval=99999)


USER_PROPS = [("a", "2"), ("c", "3")]


def check_user_props(msgs):
    for m in msgs:
        up = m.prop("UserProperty")
        check(up in (USER_PROPS, USER_PROPS[::-1]), "user properties of %r: %r" % (m, up))


@scenario()
def basic(ctx):
    """Connect, disconnect; QoS 0/1/2 to oneself; a second CONNECT on one
    socket and a wrong protocol name are refused."""
    a = ctx.peer("a")
    a.connect()
    a.disconnect()
    present, rc, _ = a.connect()
    check_eq(present, False, "session present after a clean connect")
    check_eq(a.subscribe([(ctx.topics[0], 2)]), [2], "SUBACK")
    for q in range(3):
        a.publish(ctx.topics[0], b"qos %d" % q, q)
    msgs = a.wait_messages(3)
    check_eq(sorted((m.payload, m.qos) for m in msgs), [(b"qos 0", 0), (b"qos 1", 1), (b"qos 2", 2)], "messages")
    a.disconnect()

    r = ctx.raw()
    r.connect(ctx.cid("raw"))
    check_eq(r.connack()[1], 0, "CONNACK of the first CONNECT")
    r.connect(ctx.cid("raw"))  # a second CONNECT on the same socket: a protocol error
    seen = r.expect_closed("second CONNECT")
    check(all(p.type != 2 for p in seen), "a second CONNECT was answered with CONNACK")

    r = ctx.raw()
    r.connect(ctx.cid("raw2"), proto="hj")
    seen = r.expect_closed("wrong protocol name")
    check(all(p.type != 2 or p.body[1] != 0 for p in seen), "a CONNECT with protocol name 'hj' was accepted")


@scenario()
def retained_message(ctx):
    """Retained QoS 0/1/2 messages are sent to a later subscriber (v5: with
    their user properties); empty retained messages clear them."""
    a = ctx.peer("a")
    a.connect()
    up = ctx.props(PacketTypes.PUBLISH, UserProperty=USER_PROPS) if ctx.version == 5 else None
    for q, t in ((0, 1), (1, 2), (2, 3)):
        a.publish(ctx.topics[t], b"qos %d" % q, q, retain=True, props=up)
    a.subscribe([(ctx.wild[5], 2)])
    msgs = a.wait_messages(3, "3 retained messages")
    check_eq(sorted(m.qos for m in msgs), [0, 1, 2], "QoS of the retained messages")
    check(all(m.retain for m in msgs), "retain flag set on every retained message: %r" % msgs)
    if ctx.version == 5:
        check_user_props(msgs)
    a.disconnect()

    a.clear()
    a.connect()
    for q, t in ((0, 1), (1, 2), (2, 3)):
        a.publish(ctx.topics[t], b"", q, retain=True)
    a.subscribe([(ctx.wild[5], 2)])
    check_eq(ctx.barrier(a, a, ctx.topics[1]), [], "retained messages after clearing")
    a.disconnect()


@scenario(clients=2)
def will_message(ctx):
    """A client that goes away without DISCONNECT has its will published
    (v5: with the will's user properties)."""
    a, b = ctx.peer("a"), ctx.peer("b")
    will = {"topic": ctx.topics[2], "payload": b"will message", "qos": 0}
    if ctx.version == 5:
        will["props"] = ctx.props(PacketTypes.WILLMESSAGE, WillDelayInterval=0, UserProperty=USER_PROPS)
    a.connect(keepalive=2, will=will)
    b.connect()
    b.subscribe([(ctx.topics[2], 2)])
    a.terminate()
    msgs = b.wait_messages(1, "the will message")
    check_eq((msgs[0].topic, msgs[0].payload), (ctx.topics[2], b"will message"), "will")
    if ctx.version == 5:
        check_user_props(msgs[:1])
    check_eq(len(ctx.barrier(b, b, ctx.topics[2])), 1, "will messages")


@scenario()
def zero_length_clientid(ctx):
    """v3.1.1: an empty client id needs clean session 1 (else return code 2);
    v5: accepted either way (a client identifier is assigned)."""
    r = ctx.raw()
    r.connect("", clean=False)
    if ctx.version == 3:
        _, rc, _ = r.connack()
        check_eq(rc, 2, "CONNACK return code for an empty client id with clean session 0")
    else:
        _, rc, props = r.connack()
        check_eq(rc, 0, "CONNACK reason code for an empty client id with clean start 0")
        r.disconnect()
    z = ctx.peer("a", client_id="")
    z.connect(clean=True)
    z.disconnect()


@scenario(clients=2)
def offline_message_queueing(ctx):
    """QoS 1 and 2 messages published while a persistent session is offline
    are delivered when it reconnects (QoS 0 may be)."""
    a, b = ctx.peer("a"), ctx.peer("b")
    a.connect(clean=ctx.version == 5, props=persistent(ctx))
    a.subscribe([(ctx.wild[5], 2)])
    a.disconnect()
    b.connect()
    for q, t in ((0, 1), (1, 2), (2, 3)):
        b.publish(ctx.topics[t], b"qos %d" % q, q)
    present, _, _ = a.connect(clean=False, props=persistent(ctx))
    check_eq(present, True, "session present")
    got = ctx.barrier(a, b, ctx.topics[1])
    qos = sorted(m.qos for m in got)
    check(qos in ([1, 2], [0, 1, 2]), "queued messages' QoS: %r (%r)" % (qos, got))
    info("server %s QoS 0 messages for offline clients" % ("queues" if len(got) == 3 else "does not queue"))


@scenario()
def overlapping_subscriptions(ctx):
    """Two matching subscriptions: one message at the highest QoS, or one
    per subscription at each one's QoS."""
    a = ctx.peer("a")
    a.connect()
    a.subscribe([(ctx.wild[6], 2), (ctx.wild[0], 1)])
    a.publish(ctx.topics[3], b"overlapping topic filters", 2)
    got = ctx.barrier(a, a, ctx.topics[0] + "/x/y")  # matched by TopicA/# only
    qos = sorted(m.qos for m in got)
    check(qos in ([2], [1, 2]), "overlapping deliveries' QoS: %r" % qos)


@scenario(clients=2)
def keepalive(ctx):
    """A client silent for 1.5 times its keep alive is disconnected (its
    will is published)."""
    b = ctx.peer("b")
    b.connect(keepalive=0)
    b.subscribe([(ctx.topics[4], 2)])
    r = ctx.raw("a")
    r.connect(ctx.cid("a"), keepalive=5, will={"topic": ctx.topics[4], "payload": b"keepalive expiry"})
    check_eq(r.connack()[1], 0, "CONNACK")
    t0 = time.monotonic()
    b.wait(lambda: b.messages, "the will of the silent client", 7.5 + TIMEOUT)
    took = time.monotonic() - t0
    check(took >= 5.0, "disconnected after %.1f s, before its keep alive of 5 s" % took)
    r.expect_closed("keep alive expiry")
    check_eq(b.messages[0].payload, b"keepalive expiry", "will payload")


@scenario()
def redelivery_on_reconnect(ctx):
    """QoS 1/2 messages not acknowledged by a persistent session are sent
    again (DUP set) when it reconnects."""
    r = ctx.raw("b")
    cid = ctx.cid("b")
    sp = {"SessionExpiryInterval": 99999} if ctx.version == 5 else None
    r.connect(cid, clean=ctx.version == 5, props=sp)
    r.connack()
    check_eq(r.subscribe(1, ctx.wild[6], 2), 2, "SUBACK")
    r.publish(ctx.topics[1], b"", 1, pid=2)
    r.publish(ctx.topics[3], b"", 2, pid=3)
    firsts, acked = {}, set()
    while len(firsts) < 2 or acked != {2, 3}:  # our acks, and the copies we leave unacknowledged
        p = r.read()
        if p.type == 3:
            t, pid, qos, dup, _, _ = r.parse_publish(p)
            firsts[t] = (pid, qos)
        elif p.type == 4:
            acked.add(struct.unpack("!H", p.body[:2])[0])
        elif p.type == 5:
            pid = struct.unpack("!H", p.body[:2])[0]
            r.ack(6, pid)
        elif p.type == 7:
            acked.add(struct.unpack("!H", p.body[:2])[0])
    check_eq(sorted(q for _, q in firsts.values()), [1, 2], "QoS of the first deliveries")
    r.disconnect()
    r = ctx.raw("b")
    r.connect(cid, clean=False, props=sp)
    check_eq(r.connack()[0], True, "session present")
    again, completed = {}, False
    while len(again) < 2 or not completed:
        p = r.read()
        if p.type == 6:  # PUBREL after our PUBREC of the QoS 2 copy
            r.ack(7, struct.unpack("!H", p.body[:2])[0])
            completed = True
            continue
        check_eq(p.type, 3, "packet type (a redelivered PUBLISH)")
        t, pid, qos, dup, _, _ = r.parse_publish(p)
        check(t not in again, "%s redelivered twice" % t)
        check(dup, "DUP flag of the redelivered %s" % t)
        check_eq((pid, qos), firsts[t], "packet id and QoS of the redelivered %s" % t)
        again[t] = pid
        r.ack(4 if qos == 1 else 5, pid)
    r.disconnect()


@scenario()
def subscribe_failure(ctx):
    """A filter the authorization rules deny gets a failure code in SUBACK
    (3.1.1: 0x80; 5: a reason code of 0x80 or above); the other filter of
    the same SUBSCRIBE is granted."""
    saved, ctx.username = ctx.username, ctx.nosub_username
    try:
        a = ctx.peer("a")
        a.connect()
        codes = a.subscribe([(ctx.nosub_topic, 2), (ctx.topics[0], 2)])
    finally:
        ctx.username = saved
    if ctx.version == 3:
        check_eq(codes[0], 0x80, "SUBACK return code of the denied filter")
    else:
        check(codes[0] >= 0x80, "SUBACK reason code of the denied filter: 0x%02x" % codes[0])
    check_eq(codes[1], 2, "SUBACK of the allowed filter")


@scenario()
def dollar_topics(ctx):
    """Filters starting with a wildcard do not match topics starting with $."""
    b = ctx.peer("b")
    b.connect(keepalive=0)
    dollar = "$" + ctx.topics[1]
    # every kind of filter that would match it but for the $: # , +/# and +/<rest of the topic>
    b.subscribe([("#", 2), ("+/#", 2), ("+/" + ctx.topics[1][len("paho/"):], 2)])
    b.subscribe([(dollar, 2)])  # the control: the message is routed at all
    b.clear()
    b.publish(dollar, b"dollar", 1)
    got = ctx.barrier(b, b, ctx.topics[1])  # the barrier matches +/+ and #: one copy
    check_eq([(m.topic, m.payload) for m in got], [(dollar, b"dollar")], "deliveries of %s" % dollar)


@scenario(clients=2)
def unsubscribe(ctx):
    """After UNSUBSCRIBE of one of three filters only the other two match."""
    a, b = ctx.peer("a"), ctx.peer("b")
    b.connect()
    for t in ctx.topics[:3]:
        b.subscribe([(t, 2)])
    b.unsubscribe([ctx.topics[0]])
    a.connect()
    for t in ctx.topics[:3]:
        a.publish(t, b"to " + t.encode(), 1)
    got = ctx.barrier(b, a, ctx.topics[2])
    check_eq(sorted(m.topic for m in got), sorted(ctx.topics[1:3]), "topics received")


@scenario(versions=(5, ))
def session_expiry(ctx):
    """Session Expiry Interval 0, 5 s, and changed at DISCONNECT."""
    a = ctx.peer("a")

    def conn(clean, exp, present):
        got, rc, _ = a.connect(clean=clean, props=cprops(ctx, SessionExpiryInterval=exp))
        check_eq(got, present, "session present (clean start %d, expiry %d)" % (clean, exp))

    conn(True, 0, False)
    a.subscribe([(ctx.topics[0], 2)])
    a.disconnect()
    conn(False, 0, False)  # ended at once
    a.disconnect()
    conn(True, 5, False)
    a.subscribe([(ctx.topics[0], 2)])
    a.disconnect()
    t0 = time.monotonic()
    conn(False, 5, True)  # within 5 s (a reconnect restarts the expiry)
    check(time.monotonic() - t0 < 5, "reconnect took 5 s or more")
    a.disconnect()
    time.sleep(7)  # the scenario is about time passing: 5 s and a margin
    conn(False, 5, False)
    a.disconnect()
    conn(True, 1, False)
    a.subscribe([(ctx.topics[0], 2)])
    a.disconnect(props=ctx.props(PacketTypes.DISCONNECT, SessionExpiryInterval=5))
    time.sleep(2.5)  # past the CONNECT's 1 s, within the DISCONNECT's 5 s
    conn(False, 1, True)
    a.disconnect(props=ctx.props(PacketTypes.DISCONNECT, SessionExpiryInterval=0))
    conn(False, 1, False)
    a.disconnect()


@scenario(versions=(5, ))
def user_properties(ctx):
    """User properties reach the subscriber, in order, at every QoS."""
    a = ctx.peer("a")
    a.connect()
    a.subscribe([(ctx.topics[0], 2)])
    up = ctx.props(PacketTypes.PUBLISH, UserProperty=USER_PROPS)
    for q in range(3):
        a.publish(ctx.topics[0], b"", q, props=up)
    msgs = a.wait_messages(3)
    check_user_props(msgs)
    check_eq(sorted(m.qos for m in msgs), [0, 1, 2], "QoS")


@scenario(versions=(5, ))
def payload_format(ctx):
    """Payload Format Indicator and Content Type reach the subscriber."""
    a = ctx.peer("a")
    a.connect()
    a.subscribe([(ctx.topics[0], 2)])
    pp = ctx.props(PacketTypes.PUBLISH, PayloadFormatIndicator=1, ContentType="My name")
    for q in range(3):
        a.publish(ctx.topics[0], b"", q, props=pp)
    msgs = a.wait_messages(3)
    for m in msgs:
        check_eq((m.prop("ContentType"), m.prop("PayloadFormatIndicator")), ("My name", 1), "properties")
    check_eq(sorted(m.qos for m in msgs), [0, 1, 2], "QoS")


@scenario(versions=(5, ), clients=2)
def publication_expiry(ctx):
    """Messages whose Message Expiry Interval passed while queued are not
    delivered; the others arrive with the interval reduced."""
    a, b = ctx.peer("a"), ctx.peer("b")
    b.connect(props=persistent(ctx))
    b.subscribe([(ctx.topics[0], 2)])
    b.disconnect(props=ctx.props(PacketTypes.DISCONNECT, SessionExpiryInterval=999999999))
    a.connect()
    for exp in (1, 10):  # the suite's 6 s, raised: a margin for a loaded machine
        for q in (1, 2):
            a.publish(ctx.topics[0], b"qos %d expiry %d" % (q, exp), q,
                      props=ctx.props(PacketTypes.PUBLISH, MessageExpiryInterval=exp))
    time.sleep(3)  # the scenario is about time passing: past 1 s, within 10 s
    present, _, _ = b.connect(clean=False, props=persistent(ctx))
    check_eq(present, True, "session present")
    got = ctx.barrier(b, a, ctx.topics[0])
    check_eq(sorted(m.payload for m in got), [b"qos 1 expiry 10", b"qos 2 expiry 10"], "messages delivered")
    for m in got:
        exp = m.prop("MessageExpiryInterval")
        # sent with 10 s, queued for 3 s or more: at most 7 s left (8 with a
        # server counting whole seconds), and not yet 0
        check(exp is not None and 0 < exp <= 8, "Message Expiry Interval of %r: %r" % (m.payload, exp))


@scenario(versions=(5, ), clients=2)
def subscribe_options_no_local(ctx):
    """No Local: a client's own messages are not sent back to it."""
    a, b = ctx.peer("a"), ctx.peer("b")
    a.connect()
    b.connect()
    a.subscribe([(ctx.topics[0], SubscribeOptions(qos=2, noLocal=True))])
    b.subscribe([(ctx.topics[0], SubscribeOptions(qos=2, noLocal=True))])
    a.publish(ctx.topics[0], b"noLocal test", 1)
    b.wait_messages(1)
    check_eq([m.payload for m in ctx.barrier(a, b, ctx.topics[0])], [], "a's own messages sent back to it")
    check_eq([m.payload for m in ctx.barrier(b, a, ctx.topics[0])], [b"noLocal test"], "b's messages")


@scenario(versions=(5, ))
def subscribe_options_retain_as_published(ctx):
    """Retain As Published keeps the RETAIN flag of live messages."""
    a = ctx.peer("a")
    a.connect()
    a.subscribe([(ctx.topics[0], SubscribeOptions(qos=2, retainAsPublished=True))])
    a.publish(ctx.topics[0], b"retain as published false", 1)
    a.publish(ctx.topics[0], b"retain as published true", 1, retain=True)
    msgs = a.wait_messages(2)
    check_eq([(m.payload, m.retain) for m in msgs], [(b"retain as published false", False),
                                                    (b"retain as published true", True)], "retain flags")
    a.publish(ctx.topics[0], b"", 0, retain=True)


@scenario(versions=(5, ))
def subscribe_options_retain_handling(ctx):
    """Retain Handling 0 (always), 1 (new subscriptions only), 2 (never)."""
    a = ctx.peer("a")
    a.connect()
    for q, t in ((0, 1), (1, 2), (2, 3)):
        a.publish(ctx.topics[t], b"qos %d" % q, q, retain=True)
    marker = ctx.topics[0] + "/marker"  # not matched by +/+
    a.subscribe([(marker, 1)])

    def sub_and_count(rh):
        a.clear()
        a.subscribe([(ctx.wild[5], SubscribeOptions(qos=2, retainHandling=rh))])
        return sorted(m.qos for m in ctx.barrier(a, a, marker))

    check_eq(sub_and_count(1), [0, 1, 2], "retained messages, Retain Handling 1, new subscription")
    check_eq(sub_and_count(1), [], "retained messages, Retain Handling 1, existing subscription")
    a.disconnect()
    a.connect()
    a.subscribe([(marker, 1)])
    check_eq(sub_and_count(2), [], "retained messages, Retain Handling 2")
    check_eq(sub_and_count(2), [], "retained messages, Retain Handling 2 again")
    a.disconnect()
    a.connect()
    a.subscribe([(marker, 1)])
    check_eq(sub_and_count(0), [0, 1, 2], "retained messages, Retain Handling 0")
    check_eq(sub_and_count(0), [0, 1, 2], "retained messages, Retain Handling 0 again")
    for t in ctx.topics[1:4]:
        a.publish(t, b"", 0, retain=True)


@scenario(versions=(5, ))
def assigned_clientid(ctx):
    """An empty client id gets an Assigned Client Identifier."""
    z = ctx.peer("a", client_id="")
    _, _, props = z.connect()
    aci = getattr(props, "AssignedClientIdentifier", "")
    check(aci != "", "no Assigned Client Identifier in CONNACK")
    info("assigned client identifier %s" % aci)


@scenario(versions=(5, ), clients=2)
def subscription_identifiers(ctx):
    """Subscription identifiers come back with the messages they matched;
    two matching subscriptions of one session: one copy with both."""
    a, b = ctx.peer("a"), ctx.peer("b")
    a.connect()
    a.subscribe([(ctx.topics[0], 2)], props=ctx.props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=456789))
    b.connect()
    b.subscribe([(ctx.topics[0], 2)], props=ctx.props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=2))
    b.subscribe([(ctx.topics[0] + "/#", 2)], props=ctx.props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=3))
    b.publish(ctx.topics[0], b"sub identifier test", 1)
    got = ctx.barrier(a, b, ctx.topics[0])
    check_eq(len(got), 1, "messages at a")
    check_eq(got[0].prop("SubscriptionIdentifier"), [456789], "a's subscription identifiers")
    got = ctx.barrier(b, b, ctx.topics[0] + "/x")
    ids = sorted(sorted(m.prop("SubscriptionIdentifier") or []) for m in got)
    # one copy carrying both identifiers (MQTT-3.3.4-4) or one copy per
    # subscription, each with its own (MQTT-3.3.4-5)
    check(ids in ([[2, 3]], [[2], [3]]), "b's subscription identifiers per copy: %r" % ids)
    info("server sends %s for overlapping subscriptions" % ("one copy" if len(ids) == 1 else "a copy each"))


@scenario(versions=(5, ), clients=2)
def request_response(ctx):
    """Response Topic and Correlation Data reach the responder, whose
    response reaches the requester."""
    a, b = ctx.peer("a"), ctx.peer("b")
    a.connect()
    b.connect()
    a.subscribe([(ctx.topics[0], SubscribeOptions(qos=2, noLocal=True))])
    b.subscribe([(ctx.topics[0], SubscribeOptions(qos=2, noLocal=True))])
    a.publish(ctx.topics[0], b"request", 1,
              props=ctx.props(PacketTypes.PUBLISH, ResponseTopic=ctx.topics[0], CorrelationData=b"334"))
    req = b.wait_messages(1, "the request")[0]
    check_eq((req.payload, req.prop("ResponseTopic"), req.prop("CorrelationData")),
             (b"request", ctx.topics[0], b"334"), "request")
    b.publish(req.prop("ResponseTopic"), b"response", 1,
              props=ctx.props(PacketTypes.PUBLISH, CorrelationData=req.prop("CorrelationData")))
    resp = a.wait_messages(1, "the response")[0]
    check_eq((resp.payload, resp.prop("CorrelationData")), (b"response", b"334"), "response")
    check_eq(len(ctx.barrier(a, b, ctx.topics[0])), 1, "messages at the requester")


@scenario(versions=(5, ))
def client_topic_alias(ctx):
    """Topic Alias 0 is a protocol error (DISCONNECT 0x94); an alias set in
    one connection maps the empty topic; aliases die with the connection."""
    r = ctx.raw()
    r.connect(ctx.cid("a"))
    r.connack()
    r.publish(ctx.topics[0], b"topic alias 0", 1, pid=1, raw_props=bytes([3, 0x23, 0, 0]))  # paho-mqtt refuses alias 0
    disc = [p for p in r.expect_closed("Topic Alias 0") if p.type == 14]
    check(disc, "no DISCONNECT for Topic Alias 0")
    check_eq(disc[0].body[0], 0x94, "DISCONNECT reason code (Topic Alias invalid)")
    a = ctx.peer("a")
    _, _, cp = a.connect(props=cprops(ctx, TopicAliasMaximum=0, SessionExpiryInterval=99999))
    tam = getattr(cp, "TopicAliasMaximum", 0)
    check(tam > 0, "the server allows no topic aliases (CONNACK Topic Alias Maximum %d)" % tam)
    a.subscribe([(ctx.topics[0], 2)])
    alias = ctx.props(PacketTypes.PUBLISH, TopicAlias=1)
    a.publish(ctx.topics[0], b"topic alias 1", 1, props=alias)
    a.publish("", b"topic alias 2", 1, props=alias)
    msgs = a.wait_messages(2)
    check_eq([(m.topic, m.payload) for m in msgs], [(ctx.topics[0], b"topic alias 1"),
                                                   (ctx.topics[0], b"topic alias 2")], "messages")
    a.disconnect()
    a.clear()
    present, _, _ = a.connect(clean=False, props=cprops(ctx, SessionExpiryInterval=99999))
    check_eq(present, True, "session present")
    a.publish(ctx.topics[0], b"topic alias 3", 1)
    a.wait_messages(1)
    a.publish("", b"topic alias 4", 1, props=alias, wait=False)
    rc, _ = a.wait_disconnect("DISCONNECT for an alias of the previous connection")
    check(rc in (0x82, 0x94), "DISCONNECT reason code 0x%02x, want 0x82 (Protocol Error) or 0x94 (Topic Alias invalid)" % rc)
    check_eq([m.payload for m in a.snapshot()], [b"topic alias 3"], "messages")


@scenario(versions=(5, ))
def server_topic_alias(ctx):
    """With Topic Alias Maximum 1 the server sets an alias in its first
    PUBLISH and sends the empty topic after; with 0 it uses none."""
    a = ctx.peer("a")
    a.connect(props=cprops(ctx, TopicAliasMaximum=1))
    a.subscribe([(ctx.topics[0], 2)])
    for q in range(3):
        a.publish(ctx.topics[0], b"topic alias %d" % q, q)
    msgs = a.wait_messages(3)
    alias = msgs[0].prop("TopicAlias")
    check_eq(alias, 1, "Topic Alias of the first message (the client allows aliases 1..1)")
    check_eq(msgs[0].topic, ctx.topics[0], "topic of the first message")
    for m in msgs[1:]:
        check_eq((m.topic, m.prop("TopicAlias")), ("", alias), "topic and alias of a later message")
    a.disconnect()
    for tam in (None, 0):  # absent (default 0) and 0
        a.clear()
        a.connect(props=cprops(ctx, TopicAliasMaximum=tam) if tam is not None else None)
        a.subscribe([(ctx.topics[0], 2)])
        for q in range(3):
            a.publish(ctx.topics[0], b"no topic alias %d" % q, q)
        for m in a.wait_messages(3):
            check_eq((m.topic, m.prop("TopicAlias")), (ctx.topics[0], None), "topic and alias")
        a.disconnect()


@scenario(versions=(5, ))
def maximum_packet_size(ctx):
    """A packet above the server's Maximum Packet Size gets DISCONNECT 0x95;
    a message above the client's is not sent to it."""
    a = ctx.peer("a")
    _, _, cp = a.connect()
    smax = getattr(cp, "MaximumPacketSize", 2**28 - 1)
    if smax < 65535:
        a.publish(ctx.topics[0], b"." * smax, 0)
        rc, _ = a.wait_disconnect("DISCONNECT for a packet too large")
        check_eq(rc, 0x95, "DISCONNECT reason code (Packet too large)")
    else:
        info("server Maximum Packet Size %d: the oversized publish part is not run" % smax)
        a.disconnect()
    a.close()
    a.clear()
    a.connect(props=cprops(ctx, MaximumPacketSize=64))
    a.subscribe([(ctx.topics[0], 2)])
    a.publish(ctx.topics[0], b"." * 32, 0)
    a.publish(ctx.topics[0], b"." * 64, 1)
    got = ctx.barrier(a, a, ctx.topics[0])
    check_eq([len(m.payload) for m in got], [32], "payload sizes received")


@scenario(versions=(5, ))
def server_keep_alive(ctx):
    """A Keep Alive above the server's limit comes back as Server Keep Alive."""
    a = ctx.peer("a")
    _, _, cp = a.connect(keepalive=120)
    check_eq(getattr(cp, "ServerKeepAlive", None), ctx.server_keepalive, "Server Keep Alive")


@scenario(versions=(5, ))
def flow_control1(ctx):
    """The server sends no more unacknowledged QoS 1 messages than the
    client's Receive Maximum."""
    r = ctx.raw()
    r.connect(ctx.cid("a"), props={"ReceiveMaximum": 2, "SessionExpiryInterval": 0})
    r.connack()
    check_eq(r.subscribe(1, ctx.topics[0], 2), 2, "SUBACK")
    for i in range(3):
        r.publish(ctx.topics[0], b"message %d" % i, 1, pid=10 + i)
    pubs, acks = [], 0
    while len(pubs) < 2 or acks < 3:
        p = r.read()
        if p.type == 3:
            pubs.append(r.parse_publish(p))
        else:
            check_eq(p.type, 4, "packet type (PUBACK)")
            acks += 1
    check_eq([x[2] for x in pubs], [1, 1], "QoS of the first two deliveries")
    try:
        p = r.read(QUIET)
        raise Failure("a third PUBLISH (packet type %d) beyond Receive Maximum 2" % p.type)
    except socket.timeout:
        pass
    r.ack(4, pubs[0][1])
    t, pid, qos, _, _, payload = r.parse_publish(r.read())
    check_eq((qos, payload), (1, b"message 2"), "the third delivery after a PUBACK")
    r.ack(4, pubs[1][1])
    r.ack(4, pid)
    r.disconnect()


@scenario(versions=(5, ))
def flow_control2(ctx):
    """A client exceeding the server's Receive Maximum is disconnected with
    0x93 (Receive Maximum exceeded)."""
    r = ctx.raw()
    r.connect(ctx.cid("a"), props={"SessionExpiryInterval": 0})
    _, rc, cp = r.connack()
    rmax = getattr(cp, "ReceiveMaximum", 65535)
    check(rmax <= 1024, "server Receive Maximum %d too large for this scenario" % rmax)
    for i in range(rmax + 1):
        r.publish(ctx.topics[0], b"message %d" % i, 2, pid=i + 1)  # never released: all stay unacknowledged
    seen = r.expect_closed("Receive Maximum exceeded")
    disc = [p for p in seen if p.type == 14]
    check(disc, "no DISCONNECT before the close")
    check_eq(disc[0].body[0], 0x93, "DISCONNECT reason code")


@scenario(versions=(5, ), clients=2)
def will_delay(ctx):
    """The will is published after its Will Delay Interval, or when the
    session ends if that is sooner."""
    for delay, expiry, lo, hi in ((3, 5, 2.5, 3 + TIMEOUT), (5, 0, 0, 4.5), (5, 2, 1.5, 4.5)):
        a, b = ctx.peer("a"), ctx.peer("b")
        b.connect()
        b.subscribe([(ctx.topics[0], 2)])
        a.connect(props=cprops(ctx, SessionExpiryInterval=expiry),
                  will={"topic": ctx.topics[0], "payload": b"test_will_delay will message",
                        "props": ctx.props(PacketTypes.WILLMESSAGE, WillDelayInterval=delay)})
        a.terminate()
        t0 = time.monotonic()
        m = b.wait_messages(1, "the will (delay %d, session expiry %d)" % (delay, expiry), hi)[0]
        took = time.monotonic() - t0
        check(lo <= took <= hi, "will (delay %d, session expiry %d) after %.1f s, want %.1f..%.1f" %
              (delay, expiry, took, lo, hi))
        check_eq((m.topic, m.payload), (ctx.topics[0], b"test_will_delay will message"), "will")
        b.disconnect()


@scenario(versions=(5, ), clients=2)
def shared_subscriptions(ctx):
    """A normal subscription gets every message; a $share group gets each
    message once, spread over its members."""
    a, b = ctx.peer("a"), ctx.peer("b")
    shared = "$share/sharename/" + ctx.prefix + "x"
    for p in (a, b):
        p.connect()
        check_eq(p.subscribe([(shared, 2), (ctx.topics[0], 2)]), [2, 2], "SUBACK")
    b.publish(ctx.topics[0], b"to both", 0)
    for p in (a, b):
        check_eq([m.payload for m in p.wait_messages(1)], [b"to both"], "the non-shared message")
    a.clear()
    b.clear()
    n = 20
    for i in range(n):
        b.publish(ctx.prefix + "x", b"shared %d" % i, 1)
    got = ctx.barrier(a, b, ctx.topics[0]) + ctx.barrier(b, a, ctx.topics[0])
    payloads = sorted(m.payload for m in got if m.payload.startswith(b"shared"))
    check_eq(payloads, sorted(b"shared %d" % i for i in range(n)), "shared messages, each exactly once")
    na = len([m for m in a.snapshot() if m.payload.startswith(b"shared")])
    check(0 < na < n, "the group's messages all went to one member (%d of %d to a)" % (na, n))


def info(text):
    print("    info: " + text, flush=True)


# --- driver ----------------------------------------------------------------------


def node(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % s)
    return (host, int(port))


def main(argv):
    global TIMEOUT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--node", type=node, default=("127.0.0.1", 1883), help="first client's server (HOST:PORT)")
    ap.add_argument("--node2", type=node, help="second client's server (default: --node)")
    ap.add_argument("--version", choices=("3", "5", "both"), default="both")
    ap.add_argument("--only", action="append", default=[], help="run only these scenarios (repeatable, comma lists)")
    ap.add_argument("--skip", action="append", default=[], help="leave these scenarios out")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--username", default="paho", help="user name of every client")
    ap.add_argument("--nosub-username", default="paho-nosub",
                    help="user name of subscribe_failure's client (not allowed to subscribe to --nosubscribe-topic)")
    ap.add_argument("--nosubscribe-topic", default="test/nosubscribe")
    ap.add_argument("--server-keepalive", type=int, default=60,
                    help="Server Keep Alive expected for a Keep Alive of 120 s (the server's keepalive_max)")
    ap.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds to wait for any awaited event")
    ap.add_argument("--run-id", default="%x" % (int(time.time() * 1000) % 0xFFFFFFF))
    args = ap.parse_args(argv)
    args.node2 = args.node2 or args.node
    TIMEOUT = args.timeout
    names = [n for n, _, _, _ in SCENARIOS]
    only = {x for o in args.only for x in o.split(",") if x}
    skip = {x for o in args.skip for x in o.split(",") if x}
    for x in only | skip:
        if x not in names and x.split(".", 1)[-1] not in names:
            ap.error("unknown scenario %r (--list)" % x)
    versions = (3, 5) if args.version == "both" else (int(args.version), )
    if args.list:
        for n, vs, cl, fn in SCENARIOS:
            print("%-40s v%s %d client(s): %s" % (n, "/".join(map(str, vs)), cl, " ".join(fn.__doc__.split())))
        return 0
    print("paho_interop: first client at %s:%d, second at %s:%d" % (args.node + args.node2), flush=True)
    results, seq = [], 0
    for v in versions:
        for name, vs, clients, fn in SCENARIOS:
            full = "v%d.%s" % (v, name)
            if v not in vs or (only and name not in only and full not in only) or name in skip or full in skip:
                continue
            seq += 1
            ctx = Ctx(args, v, name, seq)
            t0 = time.monotonic()
            err = None
            try:
                fn(ctx)
            except Failure as e:
                err = str(e)
            except Exception as e:  # a crash of the scenario is a failure too, with its trace
                err = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())
            finally:
                ctx.cleanup()
            took = time.monotonic() - t0
            print("%s %s (%.1f s)%s" % ("PASS" if err is None else "FAIL", full, took,
                                         "" if err is None else ": " + err), flush=True)
            results.append((full, err))
    failed = [n for n, e in results if e is not None]
    print("paho_interop: %d scenarios, %d passed, %d failed%s" %
          (len(results), len(results) - len(failed), len(failed), (": " + " ".join(failed)) if failed else ""))
    if not results:
        print("paho_interop: no scenario selected")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
