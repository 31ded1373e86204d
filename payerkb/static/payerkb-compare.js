/* The compare form's payer checklist: a box that narrows the list as you type, and a count of the
   ticked payers. Without JavaScript the form works the same (every payer listed, ticked by hand). */
(function () {
  var list = document.getElementById("compare-checklist");
  var box = document.getElementById("compare-filter");
  if (!list || !box) return;
  var items = Array.prototype.slice.call(list.querySelectorAll("li"));
  var count = document.getElementById("compare-count");
  box.parentNode.hidden = false;
  function ticked() {
    var n = list.querySelectorAll("input:checked").length;
    if (count) count.textContent = n + " ticked";
  }
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    items.forEach(function (li) {
      var text = li.textContent.toLowerCase();
      var input = li.querySelector("input");
      li.hidden = !input.checked && !words.every(function (w) { return text.indexOf(w) !== -1; });
    });
  });
  list.addEventListener("change", ticked);
  ticked();
})();
