// Show server times (UTC in the HTML) in the viewer's own time zone. Without JavaScript the UTC text stays.
document.addEventListener("DOMContentLoaded", function () {
  // Day-month-year wording to match the site's copy; the time zone is the viewer's own.
  var withTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
  var dateOnly = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium" });
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    el.title = el.textContent;
    el.textContent = (el.dataset.local === "date" ? dateOnly : withTime).format(when);
  });
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
});
