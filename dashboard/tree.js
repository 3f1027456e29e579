// The object tree of GET /v1/kernels/{id}: jobs hold jobs and processes,
// processes hold threads and a handle table.

import { h } from "./dom.js";
import { rightsNames } from "./rights.js";

/** Every process under `job`, depth first. */
export function allProcesses(job) {
  return [...job.processes, ...job.jobs.flatMap(allProcesses)];
}

/** Every thread under `job`, with the process that holds it. */
export function allThreads(job) {
  return allProcesses(job).flatMap((process) => process.threads.map((t) => ({ ...t, process })));
}

/**
 * @param {object} summary GET /v1/kernels/{id}
 * @param {{selected: number | null, onSelect: (koid: number) => void}} view
 */
export function renderTree(summary, view) {
  return h("ul", { class: "tree" }, jobNode(summary.root_job, { ...view, caller: summary.caller }));
}

function jobNode(job, ctx) {
  return h(
    "li",
    { dataset: { testid: `job-${job.koid}` } },
    h("span", { class: "kind" }, "job"),
    " ",
    h("strong", {}, job.name || "(unnamed)"),
    " ",
    koid(job.koid),
    job.dead ? h("span", { class: "badge dead" }, "dead") : null,
    h(
      "ul",
      {},
      job.jobs.map((j) => jobNode(j, ctx)),
      job.processes.map((p) => processNode(p, ctx)),
    ),
  );
}

function processNode(process, ctx) {
  const isCaller = process.koid === ctx.caller.process;
  return h(
    "li",
    { dataset: { testid: `process-${process.koid}` } },
    h("span", { class: "kind" }, "process"),
    " ",
    h("strong", {}, process.name || "(unnamed)"),
    " ",
    koid(process.koid),
    " ",
    h("span", { class: "badge" }, process.state),
    isCaller ? h("span", { class: "badge caller" }, "caller's process") : null,
    h("ul", {}, process.threads.map((t) => threadNode(t, ctx))),
    handlesTable(process),
  );
}

function threadNode(thread, ctx) {
  const selected = thread.koid === ctx.selected;
  return h(
    "li",
    {
      class: selected ? "thread selected" : "thread",
      dataset: { testid: `thread-${thread.koid}`, lifecycle: thread.lifecycle },
    },
    h("span", { class: "kind" }, "thread"),
    " ",
    h(
      "button",
      {
        type: "button",
        class: "link",
        "aria-pressed": String(selected),
        "aria-label": `Select thread ${thread.name || "(unnamed)"} (koid ${thread.koid})`,
        onclick: () => ctx.onSelect(thread.koid),
      },
      thread.name || "(unnamed)",
    ),
    " ",
    koid(thread.koid),
    " ",
    h("span", { class: `badge lifecycle ${thread.lifecycle.toLowerCase()}` }, thread.lifecycle),
    h(
      "span",
      { class: "detail" },
      ` state 0x${
        thread.state.toString(16).padStart(4, "0")
      }, suspend count ${thread.suspend_count}`,
    ),
    thread.koid === ctx.caller.thread ? h("span", { class: "badge caller" }, "caller") : null,
    thread.driven_by_client ? h("span", { class: "badge" }, "has a token") : null,
    thread.runs_code ? h("span", { class: "badge code" }, "runs code") : null,
    thread.exception
      ? h(
        "span",
        { class: "badge dead", title: `pc ${thread.exception.pc}` },
        thread.exception.type_name,
      )
      : null,
  );
}

function handlesTable(process) {
  if (process.handles.length === 0) return h("p", { class: "hint" }, "No handles.");
  return h(
    "table",
    { class: "handles", dataset: { testid: `handles-${process.koid}` } },
    h("caption", {}, `Handles held by ${process.name || "the process"}`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Handle", "Type", "Koid", "Rights"].map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    h(
      "tbody",
      {},
      process.handles.map((handle) =>
        h(
          "tr",
          { dataset: { testid: `handle-${handle.handle}` } },
          h("td", { class: "num" }, String(handle.handle)),
          h("td", { class: "type" }, handle.type_name),
          h("td", { class: "num" }, String(handle.koid)),
          h(
            "td",
            { class: "rights", title: `0x${(handle.rights >>> 0).toString(16)}` },
            breakable(rightsNames(handle.rights)),
          ),
        )
      ),
    ),
  );
}

/** "READ|WRITE" with a line-break opportunity after each bar: long rights lists wrap. */
function breakable(names) {
  return names.split("|").flatMap((name, i) => i === 0 ? [name] : ["|", h("wbr"), name]);
}

function koid(value) {
  return h("span", { class: "koid" }, `koid ${value}`);
}
