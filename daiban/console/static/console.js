// The console's one script: every page works without it; it adds the checks and updates that
// need a browser — the item's checklist and promised date, the ID number checked as it is typed,
// registrations kept on the phone while offline, and the board's short polling.
"use strict";

(function () {
  const OUTBOX = "daiban.outbox";
  const RETRY_MS = 4000;

  // --- resident ID numbers (GB 11643): the same rule the API applies on submit ----------------
  const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const CHECK = "10X98765432";
  function idProblem(value) {
    const v = value.trim().toUpperCase();
    if (v.length === 0) return "";
    if (!/^\d{0,17}[\dX]?$/.test(v)) return "身份证号码只能是数字，最后一位可以是X";
    if (v.length < 18) return "还差" + (18 - v.length) + "位";
    let sum = 0;
    for (let i = 0; i < 17; i++) sum += Number(v[i]) * WEIGHTS[i];
    if (CHECK[sum % 11] !== v[17]) return "校验位不对，请核对号码";
    const y = Number(v.slice(6, 10)), m = Number(v.slice(10, 12)), d = Number(v.slice(12, 14));
    const born = new Date(y, m - 1, d);
    if (born.getFullYear() !== y || born.getMonth() !== m - 1 || born.getDate() !== d ||
        y < 1900 || born > new Date()) return "出生日期不对，请核对号码";
    return "";
  }

  // --- the offline outbox ------------------------------------------------------------------
  function loadOutbox() {
    try { return JSON.parse(localStorage.getItem(OUTBOX) || "[]"); } catch (e) { return []; }
  }
  function saveOutbox(entries) { localStorage.setItem(OUTBOX, JSON.stringify(entries)); }
  // Made when the agent registers: the same key on every retry makes the API create it once.
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "offline-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function csrfToken() {
    const field = document.querySelector('input[name="csrf"]');
    return field ? field.value : "";
  }
  function formFields(form) {
    const data = new FormData(form);
    return {
      item: data.get("item") || "", name: data.get("name") || "",
      id_number: data.get("id_number") || "", phone: data.get("phone") || "",
      note: data.get("note") || "", materials: data.getAll("materials[]"),
    };
  }
  async function send(entry) {
    const body = new FormData();
    body.append("csrf", csrfToken());
    body.append("key", entry.key);
    for (const name of ["item", "name", "id_number", "phone", "note"]) body.append(name, entry.fields[name]);
    for (const m of entry.fields.materials) body.append("materials[]", m);
    const response = await fetch("/agent/new", {
      method: "POST", body: body, headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    const reply = await response.json().catch(() => ({}));
    return { status: response.status, reply: reply };
  }
  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      for (const entry of loadOutbox()) {
        if (entry.failed) continue;
        let result;
        try { result = await send(entry); } catch (e) { break; } // still offline: try later
        const rest = loadOutbox().filter((e) => e.key !== entry.key);
        if (result.status === 200 || result.status === 201) {
          saveOutbox(rest);
        } else if (result.status >= 400 && result.status < 500 && result.status !== 429) {
          // Refused as it stands (e.g. a wrong phone number): keep it, shown, not retried.
          entry.failed = (result.reply.messages || ["填写有误"]).join("；");
          saveOutbox(rest.concat([entry]));
        } else {
          break; // the server cannot take it now: try later
        }
      }
    } finally {
      flushing = false;
      showOutbox();
    }
  }
  function showOutbox() {
    const box = document.getElementById("outbox");
    if (!box) return;
    const entries = loadOutbox();
    box.hidden = entries.length === 0;
    document.getElementById("outbox-count").textContent = String(entries.length);
    const list = document.getElementById("outbox-list");
    list.replaceChildren(...entries.map((e) => {
      const li = document.createElement("li");
      li.textContent = e.item_name + " · " + e.fields.name + (e.failed ? "（未发送：" + e.failed + "）" : "（等待网络）");
      return li;
    }));
  }

  // --- the registration form ----------------------------------------------------------------
  function registerForm() {
    const form = document.getElementById("register");
    if (!form) return;
    const items = JSON.parse(document.getElementById("items").textContent);
    const select = document.getElementById("item");
    const info = document.getElementById("item-info");
    function showItem() {
      const item = items.find((i) => i.code === select.value);
      info.hidden = !item;
      if (!item) return;
      document.getElementById("promised").textContent = item.promised;
      document.getElementById("tier").textContent = item.tier;
      const list = document.getElementById("checklist");
      list.replaceChildren(...item.materials.map((m) => {
        const label = document.createElement("label");
        label.className = "check";
        const box = document.createElement("input");
        box.type = "checkbox"; box.name = "materials[]"; box.value = m; box.checked = true;
        label.append(box, " " + m);
        return label;
      }));
    }
    select.addEventListener("change", showItem);
    showItem();
    const id = document.getElementById("id_number");
    const message = document.getElementById("id-check");
    id.addEventListener("input", () => {
      const problem = idProblem(id.value);
      message.textContent = problem;
      message.hidden = !problem;
    });
    form.addEventListener("submit", (event) => {
      if (navigator.onLine) return; // online: the ordinary form post (its key is on the page)
      event.preventDefault();
      const entry = { key: newKey(), fields: formFields(form), at: new Date().toISOString(),
        item_name: select.options[select.selectedIndex].text };
      saveOutbox(loadOutbox().concat([entry]));
      form.reset();
      showItem();
      document.getElementById("offline-saved").hidden = false;
      showOutbox();
    });
  }

  // --- the supervisor's board ------------------------------------------------------------------
  function board() {
    const root = document.getElementById("board");
    if (!root) return;
    const every = Number(root.dataset.poll || 5000);
    async function poll() {
      try {
        const answer = await (await fetch("/board/changes?after=" + root.dataset.after)).json();
        if (answer.changed) {
          const html = await (await fetch("/board?part=true")).text();
          root.innerHTML = html;
        }
        root.dataset.after = String(answer.after);
      } catch (e) { /* the next poll tries again */ }
      setTimeout(poll, every);
    }
    setTimeout(poll, every);
  }

  // An action that cannot be undone asks first (a form without the script submits at once).
  function confirmations() {
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    }
  }

  // A field asked only with one answer (限期整改's date) shows once that answer is chosen; without
  // the script it is always shown.
  function conditionals() {
    for (const box of document.querySelectorAll(".conditional[data-when]")) {
      const group = box.closest("fieldset");
      const update = () => {
        const chosen = group.querySelector('input[type="radio"]:checked');
        box.hidden = !chosen || chosen.value !== box.dataset.when;
      };
      for (const radio of group.querySelectorAll('input[type="radio"]')) {
        radio.addEventListener("change", update);
      }
      update();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    confirmations();
    conditionals();
    registerForm();
    board();
    if (document.getElementById("outbox")) {
      showOutbox();
      flush();
      window.addEventListener("online", flush);
      setInterval(() => { if (loadOutbox().some((e) => !e.failed)) flush(); }, RETRY_MS);
    }
  });
})();
