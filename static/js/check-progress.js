// Live progress of the automated checks on the application status page. Polls a small JSON
// endpoint while checks run; when the application moves on, reloads to show the new state.
// Without JavaScript the page still shows the progress at load time.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("check-progress");
  if (!box || box.dataset.running !== "true") return;
  var text = document.getElementById("check-progress-text");
  var bar = document.getElementById("check-progress-bar");
  var delay = 1500;
  function poll() {
    fetch(box.dataset.url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { delay = Math.min(delay * 2, 15000); return; }
        text.textContent = data.label;
        bar.max = data.planned || 1;
        bar.value = data.done;
        if (data.state !== box.dataset.state) { window.location.reload(); return; }
        delay = 1500;
      })
      .catch(function () { delay = Math.min(delay * 2, 15000); })
      .finally(function () { if (box.dataset.state === "checking") setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
});
