// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) against a real local cluster of 5 dev-mode
// kv-node processes on free ports:
//   1. the page loads from replica 0 and shows all 5 replicas up, replica 0 primary;
//   2. replica 4 is killed: its row says down and the banner names it;
//   3. replica 4 comes back; the primary (replica 0, which served the page) is
//      killed while a write waits: the page, still polling the others, shows
//      view 1 with replica 1 as primary and the view change in its events.
// Screenshots of each step go to $SCREENSHOT_DIR (default ../../build/screenshots).
"use strict";
let chromium;
try {
  ({ chromium } = require("playwright-core"));
} catch (e) {
  console.error("FAIL: playwright-core is not installed in tests/browser; run `make browser-deps` (npm ci)");
  process.exit(1);
}
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

const KV_NODE = process.env.KV_NODE || path.join(__dirname, "../../build/bin/kv-node");
const SHOTS = process.env.SCREENSHOT_DIR || path.join(__dirname, "../../build/screenshots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const REPLICAS = 5;

function portFree(port) {
  return new Promise(resolve => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function freeBasePort() {
  for (let attempt = 0; attempt < 200; attempt++) {
    // Below the ephemeral range (32768 up on Linux): the replicas' own outgoing
    // connections must never hold a port one of them is about to listen on.
    const base = 11000 + 10 * Math.floor(Math.random() * 2000);
    const ports = [];
    for (let i = 0; i < REPLICAS; i++) ports.push(base + i, base + 100 + i, base + 200 + i);
    let ok = true;
    for (const p of ports) if (!(await portFree(p))) { ok = false; break; }
    if (ok) return base;
  }
  throw new Error("no free port range found");
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function waitFor(what, timeoutMs, cond) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try { if (await cond()) return; } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` + (last ? ` (last error: ${last})` : ""));
}

class Cluster {
  constructor(base, dir) { this.base = base; this.dir = dir; this.procs = new Map(); }
  url(i) { return `http://127.0.0.1:${this.base + i}`; }
  start(i) {
    const log = fs.openSync(path.join(this.dir, `replica-${i}.log`), "a");
    const p = spawn(KV_NODE, [], {
      env: { ...process.env, PBFT_DEV: String(i), PBFT_DEV_BASE_PORT: String(this.base),
             PBFT_DATA_DIR: path.join(this.dir, `replica-${i}`), PBFT_LOG: "info" },
      stdio: ["ignore", log, log],
    });
    fs.closeSync(log);
    this.procs.set(i, p);
  }
  kill(i) {
    const p = this.procs.get(i);
    this.procs.delete(i);
    return new Promise(resolve => { p.once("exit", resolve); p.kill("SIGKILL"); });
  }
  killAll() { for (const p of this.procs.values()) p.kill("SIGKILL"); this.procs.clear(); }
  async json(i, route) {
    const r = await fetch(this.url(i) + route, { signal: AbortSignal.timeout(2000) });
    return r.json();
  }
  async waitConnected(ids) {
    for (const i of ids) {
      await waitFor(`replica ${i} to connect to its peers`, 20000,
                    async () => (await this.json(i, "/api/v1/pbft/state")).connected_peers >= ids.length - 1);
    }
  }
  async put(i, key, value, timeoutMs = 30000) {
    const r = await fetch(this.url(i) + "/api/v1/kv", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ key, value }), signal: AbortSignal.timeout(timeoutMs) });
    if (r.status !== 200) throw new Error(`put ${key} via replica ${i}: HTTP ${r.status} ${await r.text()}`);
    return r.json();
  }
}

function check(cond, message) { if (!cond) throw new Error("assertion failed: " + message); }

async function rowAttrs(page) {
  return page.$$eval("[data-testid=replica-row]", rows => rows.map(r => ({
    id: Number(r.dataset.replica), reachable: r.dataset.reachable === "true",
    role: r.dataset.role || "", view: r.dataset.view === undefined ? null : Number(r.dataset.view) })));
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pbft-browser-"));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "pbft-chromium-"));
  const cluster = new Cluster(await freeBasePort(), dir);
  let context;
  let failed = false;
  const started = Date.now();
  const step = msg => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);
  try {
    for (let i = 0; i < REPLICAS; i++) cluster.start(i);
    await cluster.waitConnected([0, 1, 2, 3, 4]);
    step(`cluster up on ports ${cluster.base}..${cluster.base + REPLICAS - 1}`);
    for (let k = 0; k < 20; k++) await cluster.put(k % REPLICAS, `k${k}`, `v${k}`);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1360, height: 1000 },
    });
    const page = context.pages()[0] || await context.newPage();
    const pageErrors = [];
    page.on("pageerror", e => pageErrors.push(String(e)));
    await page.goto(cluster.url(0) + "/");

    // 1. Every replica is shown, up, with replica 0 as primary of view 0.
    await waitFor("all 5 replicas shown as up", 15000, async () => {
      const rows = await rowAttrs(page);
      return rows.length === REPLICAS && rows.every(r => r.reachable);
    });
    let rows = await rowAttrs(page);
    check(JSON.stringify(rows.map(r => r.id)) === "[0,1,2,3,4]", "rows for replicas 0..4: " + JSON.stringify(rows));
    check(rows[0].role === "primary" && rows.slice(1).every(r => r.role === "backup"), "roles: " + JSON.stringify(rows));
    check(rows.every(r => r.view === 0), "everyone in view 0");
    await waitFor("executed sequence numbers in the slot table", 10000,
                  async () => (await page.$$("[data-testid=slot-row][data-phase=executed]")).length > 0);
    check((await page.textContent("#banner")).includes("All 5 replicas reachable"), "banner says all reachable");
    for (let k = 20; k < 40; k++) await cluster.put(k % REPLICAS, `k${k}`, `v${k}`);
    await sleep(1500);
    await page.screenshot({ path: path.join(SHOTS, "1-healthy.png"), fullPage: true });
    step("page shows 5 replicas up");

    // 2. A killed backup is shown as down, and the page says so.
    await cluster.kill(4);
    await waitFor("replica 4 shown as down", 10000, async () => {
      const r = await rowAttrs(page);
      return !r[4].reachable && r[4].role === "down" && r.slice(0, 4).every(x => x.reachable);
    });
    const banner = await page.textContent("#banner");
    check(banner.includes("Replica 4 is down"), "banner names the down replica: " + banner);
    check(banner.includes("a quorum (4) remains"), "banner says the quorum remains: " + banner);
    await page.screenshot({ path: path.join(SHOTS, "2-replica-down.png"), fullPage: true });
    step("page shows replica 4 down");

    // 3. Replica 4 returns; then the primary (which served the page) dies
    //    while a write waits, and the page shows the view change.
    cluster.start(4);
    await waitFor("replica 4 shown as up again", 15000, async () => (await rowAttrs(page))[4].reachable);
    await cluster.waitConnected([0, 1, 2, 3, 4]);
    await cluster.kill(0);
    const write = cluster.put(1, "after-primary-died", "v", 40000);
    await waitFor("view 1 with replica 1 as primary", 30000, async () => {
      const r = await rowAttrs(page);
      return !r[0].reachable && r[1].role === "primary" && r.slice(1).every(x => x.reachable && x.view >= 1);
    });
    await write;
    await waitFor("the view change in the events", 10000, async () => {
      const kinds = await page.$$eval("[data-testid=event]", es => es.map(e => e.dataset.kind + ":" + e.textContent));
      return kinds.some(k => k.startsWith("view_change:")) && kinds.some(k => k.startsWith("view_started:") && k.includes("view 1"));
    });
    const windowText = await page.textContent("#window");
    check(windowText.includes("this node is not answering"), "slot view says the serving node is gone: " + windowText);
    await sleep(1200);
    await page.screenshot({ path: path.join(SHOTS, "3-view-change.png"), fullPage: true });
    step("page shows the view change to view 1");
    check(pageErrors.length === 0, "no errors in the page: " + pageErrors.join("; "));
    console.log(`ok: dashboard test passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    if (context) await context.close().catch(() => {});
    cluster.killAll();
    fs.rmSync(profile, { recursive: true, force: true });
    if (failed) console.log("replica logs kept in " + dir);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(e => {
  console.error("FAIL: " + (e && e.stack || e));
  process.exitCode = 1;
});
