// Card-check page: send the photo as soon as one is taken or picked (one tap fewer on a phone).
// Without JavaScript the "Check the photo" button does the same.
"use strict";
document.querySelectorAll("input.auto-submit").forEach(function (input) {
  input.addEventListener("change", function () {
    if (input.files && input.files.length > 0 && input.form) {
      input.form.submit();
    }
  });
});
