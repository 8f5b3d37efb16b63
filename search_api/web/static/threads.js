// The conversation page's threads (docs/threads.md): a switch that turns the colours and indents
// off and on (remembered in this browser), and "only this thread here", which hides the other
// threads' messages of the page. Without JavaScript the colours and indents stay on and every
// message shows; the "show this thread" link opens the whole thread either way.
(function () {
  "use strict";
  var list = document.getElementById("conversation");
  var toggle = document.getElementById("threads-toggle");
  var all = document.getElementById("threads-all");
  var status = document.getElementById("threads-status");
  if (!list || !toggle || !all || !status) {
    return;
  }
  var KEY = "archivist.threads";

  function setThreads(on) {
    list.classList.toggle("threads-off", !on);
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? "Threads: on" : "Threads: off";
    try {
      window.localStorage.setItem(KEY, on ? "on" : "off");
    } catch (e) {
      // storage refused (private mode): the switch still works on this page
    }
  }

  function showOnly(thread) {
    var shown = 0;
    Array.prototype.forEach.call(list.children, function (item) {
      var keep = thread === null || item.getAttribute("data-thread") === thread;
      item.hidden = !keep;
      shown += keep ? 1 : 0;
    });
    all.hidden = thread === null;
    status.textContent = thread === null ? "" : "Showing the " + shown + " messages of thread " + thread + " on this page.";
  }

  var saved = null;
  try {
    saved = window.localStorage.getItem(KEY);
  } catch (e) {
    saved = null;
  }
  toggle.hidden = false;
  setThreads(saved !== "off");
  toggle.addEventListener("click", function () {
    setThreads(toggle.getAttribute("aria-pressed") !== "true");
  });
  all.addEventListener("click", function () {
    showOnly(null);
    toggle.focus();
  });
  Array.prototype.forEach.call(list.querySelectorAll("button.thread-only"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      showOnly(button.getAttribute("data-thread"));
      all.focus();
    });
  });
})();
