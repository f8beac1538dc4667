"""Every malformed request gets its error status and a JSON body; the cluster keeps serving."""
import os
import re
import struct
import unittest

from cluster import Cluster
from native_protocol import crc32c

# The wire's frame version, read from the codec so that this test follows it.
with open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "wire", "codec.h")) as f:
    FRAME_VERSION = int(re.search(r"frame_version = (\d+);", f.read()).group(1))


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def assert_error(self, r, status):
        self.assertEqual(r.status, status, r.body)
        self.assertIn("error", r.json())

    def test_http_errors(self):
        c = self.c
        post = lambda body, headers=None: c.request(1, "POST", "/api/v1/kv", body, headers)
        self.assert_error(post(b"{not json"), 400)
        self.assert_error(post(b"[1,2]"), 400)
        self.assert_error(post({"value": "v"}), 400)
        self.assert_error(post({"key": "k"}), 400)
        self.assert_error(post({"key": 5, "value": "v"}), 400)
        self.assert_error(post({"key": "k", "value": 7}), 400)
        self.assert_error(post({"key": "", "value": "v"}), 400)
        self.assert_error(post({"key": "k", "value": "v"}, {"request-id": "not-a-uuid"}), 400)
        self.assert_error(c.request(1, "GET", "/api/v1/kv"), 400)
        self.assert_error(c.request(1, "GET", "/api/v1/kv/local"), 400)
        self.assert_error(post({"key": "k" * (64 * 1024 + 1), "value": "v"}), 413)
        self.assert_error(c.request(1, "POST", "/api/v1/kv", b"x" * (1024 * 1024 + 10)), 413)
        self.assert_error(c.request(1, "GET", "/api/v1/nope"), 404)
        # DELETE is a route now (a key is required); PUT is not.
        self.assert_error(c.request(1, "DELETE", "/api/v1/kv"), 400)
        r = c.request(1, "PUT", "/api/v1/kv")
        self.assert_error(r, 405)
        self.assertEqual(r.headers["allow"], "GET, POST, DELETE")
        self.assert_error(c.request(1, "POST", "/api/v1/pbft/state"), 405)
        # Nothing changed state, and the cluster still serves.
        self.assertIsNone(c.get(2, "k").json()["value"])
        self.assertEqual(c.put(3, "k", "fine").status, 200)
        self.assertEqual(c.get(4, "k").json()["value"], "fine")

    def test_garbage_on_the_replica_port_is_dropped_and_counted(self):
        c = self.c
        before = c.state(2)["transport"]
        c.send_raw(2, b"GET / HTTP/1.1\r\n\r\n" + bytes(range(256)) * 4)
        c.wait_for(lambda: c.state(2)["transport"]["bad_frames"] > before["bad_frames"], 5,
                   "the garbage to be counted")
        self.assertEqual(c.put(2, "after-garbage", "ok").status, 200)

    def test_forged_frames_are_rejected_and_change_nothing(self):
        c = self.c
        # Well-formed COMMIT frames with a MAC nobody could have made: one
        # claiming to come from replica 1, one from a replica that does not
        # exist.
        for sender in (1, 9):
            before = c.state(3)
            body = struct.pack("<QQ32sI", 0, before["last_applied"] + 1, b"\x01" * 32, sender)
            header = struct.pack("<IBBHQII", 0x564B4250, FRAME_VERSION, 4, 0, 1, len(body), crc32c(body))
            frame = struct.pack("<I", sender) + header + body + b"\x00" * 32
            c.send_raw(3, frame)
            c.wait_for(lambda: c.state(3)["transport"]["bad_macs"] > before["transport"]["bad_macs"], 5,
                       "the forged frame from %d to be counted" % sender)
            after = c.state(3)
            self.assertEqual(after["rejected"], before["rejected"])
            self.assertEqual(after["last_applied"], before["last_applied"])
        self.assertEqual(c.put(3, "after-forgery", "ok").status, 200)


class NoQuorum(unittest.TestCase):
    def test_no_quorum_answers_503_with_retry_after(self):
        with Cluster() as c:
            c.start()
            self.assertEqual(c.put(0, "k", "v").status, 200)
            c.kill(3)
            c.kill(4)  # 3 of 5 left, the quorum is 4
            c.wait_for(lambda: c.state(0)["connected_peers"] <= 2, 10, "replica 0 to notice")
            r = c.put(0, "k", "w")
            self.assertEqual(r.status, 503, r.body)
            self.assertIn("error", r.json())
            self.assertEqual(r.headers.get("retry-after"), "1")
            self.assertEqual(c.get_local(0, "k").json()["value"], "v")


if __name__ == "__main__":
    unittest.main()
