// Progressive enhancement for the portal. Every page works without it.
(function () {
  "use strict";

  // A notice is for the page it was sent to, not for a reload of it.
  if (window.history.replaceState && /[?&]notice=/.test(window.location.search)) {
    var url = new URL(window.location.href);
    url.searchParams.delete("notice");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  function csrfOf(form) {
    var field = form.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  // Signing secret: reveal in place (a POST), then copy.
  document.querySelectorAll("form[data-reveal]").forEach(function (form) {
    var card = form.closest(".card");
    var code = card.querySelector("[data-secret]");
    var copy = card.querySelector("[data-copy-secret]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrfOf(form) }
      }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      }).then(function (data) {
        code.textContent = data.secret;
        code.setAttribute("data-revealed", "");
        form.querySelector("button").hidden = true;
        copy.hidden = false;
      }).catch(function () { form.submit(); });
    });
  });

  document.querySelectorAll("[data-copy-secret]").forEach(function (button) {
    button.addEventListener("click", function () {
      var code = button.closest(".card").querySelector("[data-secret]");
      var text = code.textContent;
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1600);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
      } else {
        var range = document.createRange();
        range.selectNodeContents(code);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { document.execCommand("copy"); done(); } catch (e) { /* selected for the user */ }
      }
    });
  });

  // Forms that ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Slow forms (test sends, recover): show that something is happening.
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector('button[type="submit"]');
      if (!button) { return; }
      button.setAttribute("aria-busy", "true");
      setTimeout(function () { button.disabled = true; }, 0);
    });
  });

  // A select that reloads its form (the test page's event type).
  document.querySelectorAll("select[data-auto-submit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Search within grouped lists of event types.
  function searchable(input, root) {
    var empty = root.querySelector("[data-events-empty]") ||
      document.querySelector("[data-events-empty]");
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      var shown = 0;
      root.querySelectorAll("[data-event-group]").forEach(function (group) {
        var visible = 0;
        group.querySelectorAll("[data-event-item]").forEach(function (item) {
          var match = !needle || item.getAttribute("data-search").indexOf(needle) !== -1;
          item.hidden = !match;
          if (match) { visible += 1; }
        });
        group.hidden = visible === 0;
        shown += visible;
      });
      if (empty) { empty.hidden = shown !== 0; }
    });
  }

  document.querySelectorAll("[data-events-picker]").forEach(function (picker) {
    var all = picker.querySelector("[data-all-events]");
    var choices = picker.querySelector("[data-event-choices]");
    searchable(picker.querySelector("[data-events-search]"), picker);

    function sync() {
      choices.hidden = all.checked;
      choices.querySelectorAll("input[type=checkbox]").forEach(function (box) {
        box.disabled = all.checked;
      });
      if (all.checked) { return; }
      picker.querySelectorAll("[data-event-group]").forEach(function (group) {
        var whole = group.querySelector("[data-group-all]");
        if (!whole) { return; }
        group.querySelectorAll("[data-event-item] input").forEach(function (box) {
          box.disabled = whole.checked;
          if (whole.checked) { box.checked = true; }
        });
      });
    }
    picker.addEventListener("change", sync);
    sync();
  });

  // Secondary details stay folded on a phone, where the page is one long column.
  var narrow = window.matchMedia("(max-width: 720px)");
  function fold() {
    document.querySelectorAll("details[data-collapse-narrow]").forEach(function (details) {
      details.open = !narrow.matches;
    });
  }
  narrow.addEventListener("change", fold);
  fold();

  var catalogueSearch = document.querySelector("[data-catalogue-search]");
  if (catalogueSearch) { searchable(catalogueSearch, document); }

  // The payload format's shape, under its select.
  document.querySelectorAll("select[data-shape-select]").forEach(function (select) {
    var hint = select.parentNode.querySelector("[data-shape-hint]");
    select.addEventListener("change", function () {
      hint.textContent = select.options[select.selectedIndex].getAttribute("data-shape");
    });
  });

  // A preset fills in the delivery fields it sets, so the form shows what will be saved.
  document.querySelectorAll("select[data-preset-select]").forEach(function (select) {
    select.addEventListener("change", function () {
      var chosen = select.options[select.selectedIndex];
      if (!chosen.value) { return; }
      var fields = {envelope: "envelope", signature_scheme: "scheme",
                    signature_header: "header", retry_schedule: "schedule"};
      Object.keys(fields).forEach(function (name) {
        var field = select.form.elements[name];
        field.value = chosen.getAttribute("data-" + fields[name]);
        field.dispatchEvent(new Event("change"));
      });
    });
  });

  // Hex signature schemes name their header; the standard one does not.
  document.querySelectorAll("[data-signature-scheme]").forEach(function (select) {
    var header = document.querySelector("[data-signature-header]");
    function sync() { header.hidden = select.value === "standard"; }
    select.addEventListener("change", sync);
    sync();
  });
})();
