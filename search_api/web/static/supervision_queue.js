// The supervision pages' keyboard. The item page: s start, n no issue, f false positive,
// b breach, r reported, e escalate (each presses its button), c the comment box, j / k next and
// previous item, ? help. Escalating and a breach need a comment: without one nothing is sent and
// the page says so by the comment box. The queue page: j / k move between items, x ticks one.
// No key acts while typing in a box.
(function () {
  "use strict";
  var form = document.querySelector("[data-queue-form]");
  var comment = document.getElementById("comment");
  var needed = document.getElementById("comment-needed");
  var help = document.getElementById("queue-help");
  var helpButton = document.querySelector("[data-queue-help]");

  function typing(target) {
    if (!target || !target.tagName) return false;
    var name = target.tagName.toLowerCase();
    if (name === "textarea" || name === "select" || target.isContentEditable) return true;
    if (name !== "input") return false;
    var kind = (target.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset"].indexOf(kind) === -1;
  }

  function toggleHelp() {
    if (!help) return;
    help.hidden = !help.hidden;
    if (helpButton) helpButton.setAttribute("aria-expanded", String(!help.hidden));
  }

  function commentMissing(button) {
    if (!button || !button.hasAttribute("data-needs-comment") || !comment) return false;
    if (comment.value.trim() !== "") return false;
    if (needed) needed.hidden = false;
    comment.setAttribute("aria-invalid", "true");
    comment.setAttribute("aria-describedby", "comment-needed");
    comment.focus();
    return true;
  }

  if (helpButton) helpButton.addEventListener("click", toggleHelp);
  if (form) {
    form.addEventListener("submit", function (event) {
      if (commentMissing(event.submitter)) event.preventDefault();
    });
  }
  if (comment) {
    comment.addEventListener("input", function () {
      if (comment.value.trim() !== "" && needed) {
        needed.hidden = true;
        comment.removeAttribute("aria-invalid");
      }
    });
  }

  function press(button) {
    if (commentMissing(button)) return;
    if (form.requestSubmit) form.requestSubmit(button); else button.click();
  }

  function moveInQueue(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("[data-queue-item]"));
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    if (at === -1) {
      var row = document.activeElement && document.activeElement.closest ? document.activeElement.closest("[data-queue-row]") : null;
      if (row) at = links.indexOf(row.querySelector("[data-queue-item]"));
    }
    var next = at === -1 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + step));
    links[next].focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var key = event.key;
    if (key === "?") { event.preventDefault(); toggleHelp(); return; }
    if (key === "Escape" && help && !help.hidden) { toggleHelp(); return; }
    if (key === "j" || key === "k") {
      var link = document.querySelector('[data-queue-nav="' + key + '"]');
      if (link) { event.preventDefault(); window.location.assign(link.href); return; }
      if (document.querySelector("[data-queue-item]")) { event.preventDefault(); moveInQueue(key === "j" ? 1 : -1); }
      return;
    }
    if (key === "x") {
      var row = document.activeElement && document.activeElement.closest ? document.activeElement.closest("[data-queue-row]") : null;
      var box = row ? row.querySelector('input[type="checkbox"]') : null;
      if (box) { event.preventDefault(); box.checked = !box.checked; }
      return;
    }
    if (!form) return;
    if (key === "c" && comment) { event.preventDefault(); comment.focus(); return; }
    var button = form.querySelector('button[data-shortcut="' + key.toLowerCase() + '"]');
    if (button) { event.preventDefault(); press(button); }
  });
})();
