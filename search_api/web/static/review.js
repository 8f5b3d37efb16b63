// The review screen's keyboard: each tag's shortcut, r (reviewed), n / p (next, previous) and ? (help).
// A coding key changes the panel and saves it at once; no key acts while typing in a box.
(function () {
  "use strict";
  var form = document.querySelector("[data-review-form]");
  var help = document.getElementById("review-help");
  var helpButton = document.querySelector("[data-review-help]");

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

  function save() {
    var stay = form.querySelector('button[name="then"][value="stay"]');
    if (form.requestSubmit) form.requestSubmit(stay); else stay.click();
  }

  if (helpButton) helpButton.addEventListener("click", toggleHelp);

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var key = event.key;
    if (key === "?") { event.preventDefault(); toggleHelp(); return; }
    if (key === "Escape" && help && !help.hidden) { toggleHelp(); return; }
    if (key === "n" || key === "p") {
      var link = document.querySelector('[data-review-nav="' + key + '"]');
      if (link) { event.preventDefault(); window.location.assign(link.href); }
      return;
    }
    if (!form) return;
    var lower = key.toLowerCase();
    var inputs = form.querySelectorAll("input[data-shortcut]");
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (input.getAttribute("data-shortcut").toLowerCase() !== lower) continue;
      event.preventDefault();
      if (input.type === "radio" && input.checked) {
        var none = form.querySelector('input[type="radio"][name="' + input.name + '"][value=""]');
        if (none) none.checked = true;
      } else if (input.type === "radio") {
        input.checked = true;
      } else {
        input.checked = !input.checked;
      }
      save();
      return;
    }
  });
})();
