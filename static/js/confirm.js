// Forms that destroy something ask first: <form data-confirm="Delete this customer?">.
// Without JavaScript the form still works, without the question (no inline handlers: the
// Content-Security-Policy allows none).
(function () {
  "use strict";
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
})();
