// The property list's "select this page" box: checks or clears every row's box (bulk actions).
(function () {
  "use strict";
  var all = document.querySelector("[data-test=select-page]");
  if (!all) { return; }
  var rows = function () { return document.querySelectorAll("#properties input[name=ids]"); };
  all.hidden = false;  // useful only with this script
  all.addEventListener("change", function () {
    rows().forEach(function (box) { box.checked = all.checked; });
  });
})();
