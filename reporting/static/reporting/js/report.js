// Council report: the print button, and only the period fields that apply.
// No inline scripts (CSP); without JavaScript every field stays visible and works.
(function () {
  "use strict";

  document.querySelectorAll("[data-report-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var period = document.getElementById("id_period");
  if (!period) { return; }
  var wanted = {
    all: [],
    year: ["year"],
    quarter: ["year", "quarter"],
    custom: ["date_from", "date_to"]
  };
  var optional = ["year", "quarter", "date_from", "date_to"];

  function update() {
    var show = wanted[period.value] || optional;
    optional.forEach(function (name) {
      var wrapper = document.getElementById("div_id_" + name);
      if (!wrapper) { return; }
      var column = wrapper.parentElement;
      var visible = show.indexOf(name) !== -1;
      column.hidden = !visible;
      var input = document.getElementById("id_" + name);
      if (input) { input.disabled = !visible; }
    });
  }

  period.addEventListener("change", update);
  update();
}());
