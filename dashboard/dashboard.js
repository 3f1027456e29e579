// The dashboard's controller: which kernel and thread are shown, and the
// actions behind each form and button. Every action is plain API calls.

import * as api from "./api.js";
import { ApiError } from "./api.js";
import { ensureCode } from "./code.js";
import { byId, h } from "./dom.js";
import { changedPaths, flattenRegs, fullName } from "./regs.js";
import { GENERAL_ALIASES } from "./constants.js";
import { regsError, showRegs } from "./registers.js";
import * as store from "./store.js";
import { allProcesses, allThreads, renderTree } from "./tree.js";

const GENERAL_REGS = "ZX_THREAD_STATE_GENERAL_REGS";

const state = {
  /** @type {{id: string, token: string, arch: string} | null} */
  kernel: null,
  summary: null,
  /** Koid of the selected thread. */
  selected: null,
  /** Thread koid → its previous successful read (path → value), to mark what changed. */
  lastRead: new Map(),
};

// One action at a time, in click order: each awaits the server, and two
// interleaved ones would render a mix of old and new state.
let queue = Promise.resolve();

function run(action) {
  queue = queue.then(async () => {
    showError(null);
    byId("notice").textContent = "";
    document.body.dataset.busy = "true";
    try {
      await action();
    } catch (error) {
      showError(error);
    } finally {
      document.body.dataset.busy = "false";
    }
  });
  return queue;
}

function showError(error) {
  const area = byId("error");
  area.hidden = !error;
  if (!error) area.textContent = "";
  else if (error instanceof ApiError) area.textContent = error.toString();
  else {
    console.error(error); // a bug in the page or an unexpected reply: keep the stack for devtools
    area.textContent = `Error: ${error.message ?? error}`;
  }
}

function notice(text) {
  byId("notice").textContent = text;
}

// ---------------------------------------------------------------------------
// Kernels

async function openKernel({ id, token }) {
  const summary = await api.kernelSummary({ id, token });
  if (state.kernel?.id !== id) {
    state.selected = null;
    state.lastRead = new Map();
  }
  state.kernel = { id, token, arch: summary.arch };
  state.summary = summary;
  store.rememberKernel(state.kernel);
  // Reloading, or copying the address bar, reopens this kernel.
  history.replaceState(null, "", store.hashFor(state.kernel));
  renderRemembered();
  renderKernel();
  await renderThread();
  await renderDebuglog();
}

async function refresh() {
  state.summary = await api.kernelSummary(state.kernel);
  renderKernel();
  await renderThread();
}

/** The kernel's debug log (what programs wrote with zx_debug_write, and crash reports). */
async function renderDebuglog() {
  const { text } = await api.debuglog(state.kernel);
  byId("debuglog").textContent = text;
  byId("debuglog").hidden = text === "";
  byId("debuglog-empty").hidden = text !== "";
}

function renderKernel() {
  const { kernel, summary } = state;
  byId("no-kernel").hidden = true;
  byId("kernel").hidden = false;
  byId("kernel-id").textContent = kernel.id;
  byId("kernel-arch").textContent = summary.arch;
  byId("caller-thread").textContent = String(summary.caller.thread);
  byId("caller-process").textContent = String(summary.caller.process);
  byId("kernel-link").href = store.hashFor(kernel);
  byId("tree").replaceChildren(
    renderTree(summary, {
      selected: state.selected,
      onSelect: (koid) => run(() => selectThread(koid)),
    }),
  );
}

function renderRemembered() {
  const list = store.rememberedKernels();
  byId("remembered").replaceChildren(
    ...(list.length ? list : [null]).map((k) =>
      k
        ? h(
          "li",
          {
            dataset: { testid: `remembered-${k.id}` },
            class: k.id === state.kernel?.id && "current",
          },
          h(
            "button",
            { type: "button", class: "secondary", onclick: () => run(() => openKernel(k)) },
            `Open ${k.id} (${k.arch})`,
          ),
          h("button", {
            type: "button",
            class: "secondary",
            "aria-label": `Forget ${k.id}`,
            onclick: () => {
              store.forgetKernel(k.id);
              renderRemembered();
            },
          }, "Forget"),
        )
        : h("li", { class: "hint" }, "None yet.")
    ),
  );
}

// ---------------------------------------------------------------------------
// The selected thread

/** The caller's process: the handles the dashboard can use live in its table. */
function callerProcess() {
  return allProcesses(state.summary.root_job).find((p) => p.koid === state.summary.caller.process);
}

/** A handle value in the caller's process to the object `koid` of `typeName`, if any. */
function handleTo(koid, typeName) {
  return callerProcess()?.handles.find((x) => x.koid === koid && x.type_name === typeName)?.handle;
}

function selectedThread() {
  return allThreads(state.summary.root_job).find((t) => t.koid === state.selected);
}

async function selectThread(koid) {
  state.selected = koid;
  renderKernel();
  await renderThread();
}

async function renderThread() {
  const thread = state.selected === null ? undefined : selectedThread();
  byId("thread-hint").textContent = state.selected !== null && !thread
    ? `Thread koid ${state.selected} is no longer in the kernel.`
    : "Select a thread in the tree.";
  byId("thread-hint").hidden = !!thread;
  byId("thread-body").hidden = !thread;
  if (!thread) return;

  const handle = handleTo(thread.koid, "thread");
  const tokens = store.suspendTokens(state.kernel.id, thread.koid);
  byId("thread-title").textContent = `Thread ${thread.name || "(unnamed)"} (koid ${thread.koid})`;
  byId("thread-handle").textContent = handle === undefined ? "none" : String(handle);
  byId("thread-lifecycle").textContent = thread.lifecycle;
  byId("thread-suspend-count").textContent = String(thread.suspend_count);
  byId("thread-runs-code").textContent = thread.runs_code
    ? "yes"
    : thread.driven_by_client
    ? "no (a token makes its syscalls)"
    : "no";
  const exception = thread.exception;
  byId("thread-exception").textContent = exception
    ? `${exception.type_name} at pc ${exception.pc}` +
      (exception.fault_address ? `, address ${exception.fault_address}` : "")
    : "none";
  byId("thread-tokens").textContent = tokens.length ? tokens.join(", ") : "none";
  byId("suspend").disabled = handle === undefined;
  byId("reread").disabled = handle === undefined;
  byId("resume").disabled = tokens.length === 0;

  if (handle === undefined) {
    showRegs(null);
    regsError(
      `The caller's process (koid ${state.summary.caller.process}) holds no handle to this ` +
        "thread, so the dashboard cannot suspend it or read its registers.",
    );
    return;
  }
  await readRegs(thread.koid, handle);
}

async function readRegs(koid, handle) {
  let reply;
  try {
    reply = await api.syscall(state.kernel, "thread_read_state", { handle, kind: GENERAL_REGS });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showRegs(null);
    const hint = error.status.endsWith("_BAD_STATE") ? " Suspend the thread to read them." : "";
    regsError(`Registers cannot be read: ${String(error).replace(/\.?$/, ".")}${hint}`);
    return;
  }
  const rows = flattenRegs(reply.regs);
  const changed = changedPaths(state.lastRead.get(koid), rows);
  state.lastRead.set(koid, new Map(rows.map((r) => [r.path, r.value])));
  regsError(null);
  showRegs(rows, changed, GENERAL_ALIASES[state.summary.arch]);
}

// ---------------------------------------------------------------------------
// Actions on the selected thread

function requireThreadHandle() {
  const thread = selectedThread();
  const handle = thread && handleTo(thread.koid, "thread");
  if (handle === undefined) throw new Error("no handle to the selected thread");
  return { thread, handle };
}

async function suspend() {
  const { thread, handle } = requireThreadHandle();
  const { token } = await api.syscall(state.kernel, "task_suspend", { handle });
  store.addSuspendToken(state.kernel.id, thread.koid, token);
  notice(`Suspended thread ${thread.koid}; the dashboard holds suspend token ${token}.`);
  await refresh();
}

async function resume() {
  const thread = selectedThread();
  const token = store.suspendTokens(state.kernel.id, thread.koid).at(-1);
  if (token === undefined) throw new Error("the dashboard holds no suspend token for this thread");
  try {
    await api.syscall(state.kernel, "handle_close", { handle: token });
  } catch (error) {
    // A token closed elsewhere (or a restarted server) will never close here: drop it.
    if (error instanceof ApiError && error.status.endsWith("_BAD_HANDLE")) {
      store.dropSuspendToken(state.kernel.id, thread.koid, token);
      await refresh();
    }
    throw error;
  }
  store.dropSuspendToken(state.kernel.id, thread.koid, token);
  notice(`Closed suspend token ${token} of thread ${thread.koid}.`);
  await refresh();
}

async function writeRegister() {
  const { handle } = requireThreadHandle();
  const path = byId("reg-name").value;
  // Sent as the typed string: the server parses decimal and 0x hex exactly,
  // where a JSON number would lose bits above 2^53.
  const value = byId("reg-value").value.trim();
  await api.syscall(state.kernel, "thread_write_state", {
    handle,
    kind: GENERAL_REGS,
    regs: { [path]: value },
  });
  notice(`Wrote ${fullName(GENERAL_ALIASES[state.summary.arch], path)} = ${value}.`);
  await refresh();
}

async function createThread(form) {
  const process = handleTo(state.summary.caller.process, "process");
  if (process === undefined) throw new Error("the caller's process holds no handle to itself");
  const { name, entry, stack, map } = Object.fromEntries(new FormData(form));
  // Threads run their code: started where nothing is mapped, one would fault
  // and take the caller's process with it once resumed.
  const mappedNow = map
    ? await ensureCode(state.kernel, {
      arch: state.summary.arch,
      process,
      vmars: callerProcess().handles.filter((x) => x.type_name === "vmar").map((x) => x.handle),
      entry: entry.trim(),
      stack: stack.trim(),
    })
    : [];
  const { out: thread } = await api.syscall(state.kernel, "thread_create", { process, name });
  const basic = await api.syscall(state.kernel, "object_get_info", {
    handle: thread,
    topic: "ZX_INFO_HANDLE_BASIC",
  });
  const koid = Number(BigInt(basic.info.koid));
  const { token } = await api.syscall(state.kernel, "task_suspend", { handle: thread });
  store.addSuspendToken(state.kernel.id, koid, token);
  state.selected = koid;
  try {
    await api.syscall(state.kernel, "thread_start", {
      handle: thread,
      thread_entry: entry.trim(),
      stack: stack.trim(),
      arg1: 0,
      arg2: 0,
    });
  } finally {
    await refresh(); // the thread exists even if it did not start: show it
  }
  const mappedText = mappedNow.length ? ` Mapped ${mappedNow.join(" and ")} first.` : "";
  notice(
    `Created thread ${koid} (handle ${thread}), suspended before its first instruction.` +
      mappedText,
  );
}

// ---------------------------------------------------------------------------
// Wiring

function onSubmit(id, action) {
  byId(id).addEventListener("submit", (event) => {
    event.preventDefault();
    run(() => action(event.currentTarget));
  });
}

function needKernel(action) {
  return (...args) => {
    if (!state.kernel) throw new Error("open a kernel first");
    return action(...args);
  };
}

onSubmit("create-kernel-form", async (form) => {
  const created = await api.createKernel(form.elements.arch.value);
  await openKernel({ id: created.kernel, token: created.token });
  notice(`Created ${created.arch} kernel ${created.kernel}.`);
});
onSubmit("open-kernel-form", async (form) => {
  await openKernel({ id: form.elements.id.value.trim(), token: form.elements.token.value.trim() });
});
onSubmit("new-thread-form", needKernel(createThread));
onSubmit("write-form", needKernel(writeRegister));
byId("refresh").addEventListener("click", () =>
  run(needKernel(async () => {
    await refresh();
    await renderDebuglog();
  })));
byId("suspend").addEventListener("click", () => run(needKernel(suspend)));
byId("resume").addEventListener("click", () => run(needKernel(resume)));
byId("reread").addEventListener("click", () => run(needKernel(renderThread)));

function openFromHash() {
  const wanted = store.kernelFromHash(location.hash);
  if (wanted && (wanted.id !== state.kernel?.id || wanted.token !== state.kernel?.token)) {
    return run(() => openKernel(wanted));
  }
  return queue;
}

addEventListener("hashchange", openFromHash);
renderRemembered();
openFromHash().then(() => {
  document.body.dataset.ready = "true";
});
