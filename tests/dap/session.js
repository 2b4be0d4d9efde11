// A whole `mlpvm dap` session driven by VS Code's own test client (@vscode/debugadapter-testsupport):
//   node session.js ADAPTER GCD LINE BAD_WEIGHTS HELLO
// ADAPTER: the `mlpvm` executable (run as `mlpvm dap`). Prints one JSON line of what it saw; exits non-zero
// on any failed assertion or request.
const assert = require("assert");
const { DebugClient } = require("@vscode/debugadapter-testsupport");

const [adapter, gcd, lineText, bad, hello] = process.argv.slice(2);
const line = Number(lineText);

async function gcdSession(seen) {
  const dc = new DebugClient(adapter, "dap", "mlpvm", { env: process.env });
  dc.defaultTimeout = 60000;
  await dc.start();
  let output = "";
  dc.on("output", (e) => { output += e.body.output; });
  await dc.launch({ program: gcd, stopOnEntry: false }).then(() => undefined);
  // the breakpoint in the source, before configurationDone (the run starts then)
  const bps = await dc.setBreakpointsRequest({ source: { path: gcd }, breakpoints: [{ line }] });
  assert.ok(bps.body.breakpoints[0].verified);
  const stopped = dc.assertStoppedLocation("breakpoint", { path: gcd, line });
  await dc.configurationDone();
  const trace = await stopped;
  const frames = trace.body.stackFrames;
  seen.frames = frames.map((f) => f.name);
  const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
  const ref = Object.fromEntries(scopes.map((s) => [s.name, s.variablesReference]));
  const vars = async (r) => Object.fromEntries(
    (await dc.variablesRequest({ variablesReference: r })).body.variables.map((v) => [v.name, v.value]));
  const regs = await vars(ref["Registers"]);
  const labels = await vars(ref["Labels"]);
  seen.ab = [labels.a, labels.b];
  seen.pcIsFrame = regs.pc === frames[0].instructionPointerReference;
  const layers = (await dc.variablesRequest({ variablesReference: ref["Layers (last pass)"] })).body.variables;
  seen.layers = layers.length;
  seen.write1 = Object.keys(await vars(layers[12].variablesReference));
  // a step back
  const back = dc.waitForEvent("stopped");
  await dc.stepBackRequest({ threadId: 1, granularity: "instruction" });
  await back;
  seen.passes = [Number(regs.passes), Number((await vars(ref["Registers"])).passes)];
  // a data breakpoint: the next write of a
  await dc.setBreakpointsRequest({ source: { path: gcd }, breakpoints: [] });
  const info = (await dc.dataBreakpointInfoRequest({ name: "a" })).body;
  await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.dataId, accessType: "write" }] });
  const hit = dc.waitForEvent("stopped");
  await dc.continueRequest({ threadId: 1 });
  seen.dataStop = (await hit).body.reason;
  seen.aAfter = (await dc.evaluateRequest({ expression: "a", context: "watch" })).body.result;
  // to the end: the program's output, exited, terminated; then disconnect
  await dc.setDataBreakpointsRequest({ breakpoints: [] });
  const exited = dc.waitForEvent("exited");
  const terminated = dc.waitForEvent("terminated");
  await dc.continueRequest({ threadId: 1 });
  seen.exitCode = (await exited).body.exitCode;
  await terminated;
  seen.output = output;
  await dc.stop();
}

async function divergence(seen) {
  const dc = new DebugClient(adapter, "dap", "mlpvm", { env: process.env });
  dc.defaultTimeout = 60000;
  await dc.start();
  await dc.launch({ program: hello, weights: bad, engine: "sparse" });
  const stopped = dc.waitForEvent("stopped");
  await dc.configurationDone();
  const e = (await stopped).body;
  seen.divergence = [e.reason, e.text];
  await dc.stop();
}

(async () => {
  const seen = {};
  await gcdSession(seen);
  await divergence(seen);
  console.log(JSON.stringify(seen));
})().catch((err) => { console.error(err.stack || String(err)); process.exit(1); });
