// The documents step: a file over the size limit is caught in the browser, before minutes of upload,
// with the same message at the field that the server gives. Without JavaScript the server answers.
(function () {
  function limitOf(input) { return Number(input.getAttribute("data-max-bytes")) || 0; }

  function showError(input, message) {
    var field = input.closest(".field");
    var id = input.id + "-size-error";
    var existing = document.getElementById(id);
    if (!message) {
      if (existing) existing.remove();
      field.classList.remove("field-invalid");
      input.removeAttribute("aria-invalid");
      return;
    }
    if (!existing) {
      existing = document.createElement("p");
      existing.className = "field-error";
      existing.id = id;
      input.parentNode.insertBefore(existing, input);
    }
    existing.textContent = message;
    field.classList.add("field-invalid");
    input.setAttribute("aria-invalid", "true");
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(id) === -1) described.push(id);
    input.setAttribute("aria-describedby", described.join(" "));
  }

  function check(input) {
    var limit = limitOf(input);
    var file = input.files && input.files[0];
    if (limit && file && file.size > limit) {
      var mb = Math.round(limit / 1048576);
      showError(input, "The file is larger than " + mb + " MB (it is " + (file.size / 1048576).toFixed(1) +
        " MB). Upload a smaller file (for example a compressed PDF or a scan at a lower resolution).");
      return false;
    }
    showError(input, "");
    return true;
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[type=file][data-max-bytes]")) check(event.target);
  });
  document.addEventListener("submit", function (event) {
    var input = event.target.querySelector("input[type=file][data-max-bytes]");
    if (input && !check(input)) {
      event.preventDefault();
      input.focus();
    }
  });
})();
