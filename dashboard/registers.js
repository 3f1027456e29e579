// The register table of the selected thread and the write form's choices,
// or the reason they cannot be shown.

import { byId, h } from "./dom.js";
import { displayName, fullName } from "./regs.js";

/** The reason the registers are not shown, or null to clear it. */
export function regsError(text) {
  byId("regs-error").hidden = !text;
  byId("regs-error").textContent = text ?? "";
}

/**
 * The register table and the write form's choices; null hides both.
 * @param {{path: string, value: string}[] | null} rows
 * @param {Set<string>} [changed] paths to mark as changed since the previous read
 * @param {Record<string, string[]>} [aliases] other names of the fields, for the names people
 *   use (arm64 x0 for r[0]); the API takes all of them
 */
export function showRegs(rows, changed = new Set(), aliases = {}) {
  byId("regs").hidden = !rows;
  byId("write-form").hidden = !rows;
  if (!rows) return;
  byId("regs").tBodies[0].replaceChildren(
    ...rows.map(({ path, value }) =>
      h(
        "tr",
        {
          class: changed.has(path) && "changed",
          dataset: { reg: path, name: displayName(aliases, path) },
          title: fullName(aliases, path) === path
            ? undefined
            : `${fullName(aliases, path)}: ${path} in Zircon's struct; writes take any of these`,
          onclick: () => pickRegister(path),
        },
        h("th", { scope: "row" }, displayName(aliases, path)),
        h(
          "td",
          {},
          h("code", {}, value),
          changed.has(path) ? h("span", { class: "visually-hidden" }, " (changed)") : null,
        ),
      )
    ),
  );
  const select = byId("reg-name");
  const keep = select.value;
  select.replaceChildren(
    ...rows.map(({ path }) => h("option", { value: path }, fullName(aliases, path))),
  );
  if (rows.some((r) => r.path === keep)) select.value = keep;
}

/** Clicking a row picks it in the write form, ready for a value. */
function pickRegister(path) {
  byId("reg-name").value = path;
  byId("reg-value").focus();
}
