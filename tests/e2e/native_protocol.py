"""The binary client protocol, written again from docs/API.md and docs/PROTOCOL.md in plain
Python (standard library only), so that the e2e tests speak to a replica the way a third-party
client would: wire frames with CRC-32C, MACs under crypto_kx keys derived from the dev keys.

Not a client library: no signatures (Ed25519 signing is left to the C++ library), so what it
can send with a valid MAC is a fast read, or an ordered request whose signature is wrong.
"""
import hashlib
import socket
import struct

P = 2 ** 255 - 19
FRAME_MAGIC = 0x564B4250
FRAME_VERSION = 3
TYPE_REQUEST, TYPE_REPLY = 1, 8
FLAG_SIGNED_REPLY, FLAG_READ_ONLY, FLAG_SENT_TO_ALL = 1, 2, 4


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def x25519(k, u):
    """RFC 7748 scalar multiplication on Curve25519 (k, u as 32-byte strings)."""
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P, (x2 - z2) % P
        aa, bb = a * a % P, b * b % P
        e = (aa - bb) % P
        c, d = (x3 + z3) % P, (x3 - z3) % P
        da, cb = d * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        x2, x3, z2, z3 = x3, x2, z3, z2
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


def curve_secret(seed):
    """crypto_sign_ed25519_sk_to_curve25519: the first half of SHA-512(seed) (clamped by x25519)."""
    return hashlib.sha512(seed).digest()[:32]


def curve_public(seed):
    """The X25519 public key of an Ed25519 seed (what crypto_sign_ed25519_pk_to_curve25519 gives)."""
    return x25519(curve_secret(seed), (9).to_bytes(32, "little"))


def padded(text, last):
    seed = text.encode() + bytes([last])
    return seed + bytes(32 - len(seed))


def dev_replica_seed(i):
    return padded("pbft-kv dev key, NOT SECRET #", ord("0") + i)


def dev_client_seed(c):
    return padded("pbft-kv dev client, NOT SECRET", c)


def client_keys(client_seed, replica_seed):
    """crypto_kx_client_session_keys: (rx, tx) of the client with one replica."""
    client_pk, server_pk = curve_public(client_seed), curve_public(replica_seed)
    q = x25519(curve_secret(client_seed), server_pk)
    h = hashlib.blake2b(q + client_pk + server_pk, digest_size=64).digest()
    return h[:32], h[32:]


def mac(key, data):
    return hashlib.blake2b(data, digest_size=32, key=key).digest()


def frame(msg_type, body, cluster_id=1):
    return struct.pack("<IBBHQII", FRAME_MAGIC, FRAME_VERSION, msg_type, 0, cluster_id, len(body), crc32c(body)) + body


def request_body(client, timestamp, operation, flags, signature=bytes(64)):
    return struct.pack("<QQI", client, timestamp, len(operation)) + operation + bytes([flags]) + signature


def get_operation(key):
    k = key.encode()
    return bytes([1]) + struct.pack("<I", 0) + struct.pack("<I", len(k)) + k  # get, no request id, key


def put_operation(key, value):
    k, v = key.encode(), value.encode()
    return bytes([2]) + struct.pack("<I", 0) + struct.pack("<I", len(k)) + k + struct.pack("<I", len(v)) + v


class Link:
    """One client's connection to one dev replica's client port."""

    def __init__(self, port, client, replica, timeout=10):
        self.client = client
        self.rx, self.tx = client_keys(dev_client_seed(client), dev_replica_seed(replica))
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def send_request(self, timestamp, operation, flags, signature=bytes(64), tamper_mac=False):
        f = frame(TYPE_REQUEST, request_body(self.client, timestamp, operation, flags, signature))
        m = bytearray(mac(self.tx, f))
        if tamper_mac:
            m[0] ^= 1
        self.sock.sendall(f + bytes(m))

    def read_reply(self):
        """The next reply, as a dict, with whether its MAC checked; None when the replica hung up."""
        while True:
            if len(self.buffer) >= 24:
                magic, version, msg_type, _, _, size, crc = struct.unpack("<IBBHQII", self.buffer[:24])
                if len(self.buffer) >= 24 + size + 32:
                    f, m = self.buffer[:24 + size], self.buffer[24 + size:24 + size + 32]
                    self.buffer = self.buffer[24 + size + 32:]
                    assert (magic, version, msg_type) == (FRAME_MAGIC, FRAME_VERSION, TYPE_REPLY)
                    assert crc == crc32c(f[24:])
                    body = f[24:]
                    view, ts, client, replica, n = struct.unpack("<QQQII", body[:32])
                    result = body[32:32 + n]
                    (seq,) = struct.unpack("<Q", body[32 + n:40 + n])
                    return {"view": view, "timestamp": ts, "client": client, "replica": replica, "result": result,
                            "seq": seq, "signed": body[40 + n] == 1, "mac_ok": m == mac(self.rx, f)}
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
