// Sidestage: the little JavaScript the pages need beyond htmx.
// - Copy buttons: [data-copy-target="<element id>"] writes that element's text to the
//   clipboard and shows "Copied" for a moment (announced to screen readers).
// - Env rows: [data-remove-row] removes its row with htmx.remove and keeps the focus
//   on the card; without JavaScript the same button posts the form instead.
// - Failed htmx requests (403, 404, 5xx, no network) show a visible message in
//   #request-error instead of failing silently; the next good request hides it.
// - [data-focus-on-swap] in swapped content takes the focus once it has settled.
// - .countdown[data-expires] counts down every 30 s without a reload (same format as
//   the server's short_duration filter).
(function () {
  "use strict";

  function fallbackCopy(text) {
    // For pages served over plain HTTP to a non-localhost host, where the async
    // clipboard API is not available.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return fallbackCopy(text);
  }

  function flash(button, label, state) {
    const original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = label;
    button.dataset.state = state;
    clearTimeout(button._sidestageTimer);
    button._sidestageTimer = setTimeout(function () {
      button.textContent = original;
      delete button.dataset.state;
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    const copy = event.target.closest("[data-copy-target]");
    if (copy) {
      const source = document.getElementById(copy.dataset.copyTarget);
      if (!source) return;
      copyText(source.textContent).then(
        function () { flash(copy, "Copied", "copied"); },
        function () { flash(copy, "Press Ctrl+C", "failed"); }
      );
      return;
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove && window.htmx) {
      event.preventDefault();
      const card = remove.closest("fieldset");
      htmx.remove(remove.closest(".env-row"));
      const add = card && card.querySelector(".add-env");
      if (add) add.focus();
    }
  });

  function requestError(status) {
    if (status === 0) return "The portal cannot be reached. Check your connection and try again.";
    if (status === 403) return "You are not allowed to do that (403). Reload the page to see what you may do.";
    if (status === 404) return "Not found (404): it may have been deleted. Reload the page.";
    if (status >= 500) return "The portal failed (" + status + "). Try again in a moment; if it keeps failing, tell your operators.";
    return "The request failed (" + status + ").";
  }

  function showRequestError(text) {
    const box = document.getElementById("request-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  // A swapped card that asks for it gets the focus back (the button that had it is
  // gone), so keyboard and screen-reader users stay where they were.
  document.addEventListener("htmx:afterSettle", function () {
    const target = document.querySelector("[data-focus-on-swap]");
    if (!target) return;
    target.removeAttribute("data-focus-on-swap");
    target.focus();
  });

  function shortDuration(seconds) {
    if (seconds <= 0) return "expired";
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    if (days) return days + "d " + hours + "h";
    if (hours) return hours + "h " + minutes + "m";
    return seconds >= 60 ? Math.max(minutes, 1) + "m" : "<1m";
  }

  function tickCountdowns() {
    const now = Date.now();
    document.querySelectorAll(".countdown[data-expires]").forEach(function (el) {
      const expires = Date.parse(el.dataset.expires);
      if (!isNaN(expires)) el.textContent = shortDuration(Math.floor((expires - now) / 1000));
    });
  }
  setInterval(tickCountdowns, 30000);
  // A row swapped in by a status poll carries the server's rendering of the time left;
  // count it again at once from this clock, so the two never disagree until the next tick.
  document.addEventListener("htmx:afterSwap", tickCountdowns);

  document.addEventListener("htmx:responseError", function (event) {
    showRequestError(requestError(event.detail.xhr.status));
  });
  document.addEventListener("htmx:sendError", function () {
    showRequestError(requestError(0));
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    // Only a person's own next action clears the message, not a background poll.
    const box = document.getElementById("request-error");
    const config = event.detail.requestConfig || {};
    const trigger = config.triggeringEvent && config.triggeringEvent.type;
    if (box && event.detail.successful && (trigger === "click" || trigger === "submit")) {
      box.hidden = true;
    }
  });
})();
