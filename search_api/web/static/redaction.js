// The redaction page: selecting text in a version fills in the span (offsets in code points,
// as the archive counts them: Python str indices), without inline scripts (the pages' CSP).
(function () {
  "use strict";
  function codePoints(text) {
    return Array.from(text).length;
  }
  function offsetIn(pre, node, offset) {
    var range = document.createRange();
    range.selectNodeContents(pre);
    range.setEnd(node, offset);
    return codePoints(range.toString());
  }
  function fill() {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) {
      return;
    }
    var range = selection.getRangeAt(0);
    var start = range.startContainer.nodeType === 1 ? range.startContainer : range.startContainer.parentElement;
    var pre = start && start.closest ? start.closest("pre.redact-text") : null;
    if (!pre || !pre.contains(range.endContainer)) {
      return;
    }
    var from = offsetIn(pre, range.startContainer, range.startOffset);
    var to = offsetIn(pre, range.endContainer, range.endOffset);
    if (to <= from) {
      return;
    }
    document.getElementById("redact-version").value = pre.getAttribute("data-version");
    document.getElementById("redact-start").value = String(from);
    document.getElementById("redact-end").value = String(to);
    var said = document.getElementById("redact-selected");
    if (said) {
      var picked = range.toString();
      var others = [];
      document.querySelectorAll("pre.redact-text").forEach(function (other) {
        if (other !== pre && other.textContent.indexOf(picked) >= 0) {
          others.push(other.getAttribute("data-version"));
        }
      });
      said.textContent = "Selected characters " + from + " to " + to + " of version " + pre.getAttribute("data-version") + "." +
        (others.length ? " The same text is also in version " + others.join(", ") + ": a span redacts one version, redact it there too." : "");
    }
  }
  document.addEventListener("mouseup", fill);
  document.addEventListener("keyup", fill);
  document.addEventListener("touchend", fill);
})();
