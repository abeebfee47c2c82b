// Live job state on the property page: while a link's sync is queued or running, asks the status
// endpoint every few seconds, swaps in the cards that changed and, once a sync ends, the sections
// its run changed (stays, history, risk...), read from a fresh copy of the page. No inline script:
// the Content-Security-Policy forbids it.
(function () {
  var POLL_MS = 2000;
  var IN_FLIGHT = ['queued', 'running'];
  // Sections a finished run can change; whatever the page draws in them is taken as it is.
  var SECTIONS = ['stays', 'history', 'risk', 'overbookings', 'alert-history'];
  var links = document.getElementById('links');
  var url = links && links.getAttribute('data-status-url');
  var timer = null;
  var stopped = false;

  function live(state) { return IN_FLIGHT.indexOf(state) >= 0; }

  function cards() { return links.querySelectorAll('[data-link-id]'); }

  function anyInFlight() {
    return Array.prototype.some.call(cards(), function (card) {
      return live(card.getAttribute('data-job-state'));
    });
  }

  function schedule() {
    if (!stopped && timer === null && anyInFlight()) { timer = window.setTimeout(poll, POLL_MS); }
  }

  function swap(current, fresh) {
    if (current && fresh) { current.replaceWith(document.importNode(fresh, true)); }
  }

  function refreshSections() {
    // The property's header (its health, risk and held state) and the sections the run changed.
    return fetch(window.location.pathname, {credentials: 'same-origin'})
      .then(function (resp) { if (!resp.ok) { throw new Error('page ' + resp.status); } return resp.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        SECTIONS.forEach(function (id) { swap(document.getElementById(id), doc.getElementById(id)); });
        var name = document.getElementById('property-name');
        var freshName = doc.getElementById('property-name');
        if (name && freshName) { swap(name.nextElementSibling, freshName.nextElementSibling); }
      });
  }

  function apply(data) {
    var ended = false;
    data.links.forEach(function (item) {
      var card = links.querySelector('[data-link-id="' + item.id + '"]');
      if (!card || card.getAttribute('data-job-version') === item.version) { return; }
      if (live(card.getAttribute('data-job-state')) && !live(item.job.state)) { ended = true; }
      var holder = document.createElement('div');
      holder.innerHTML = item.html.trim();
      card.replaceWith(holder.firstElementChild);
    });
    return ended ? refreshSections() : null;
  }

  function poll() {
    timer = null;
    fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (resp) {
        if (resp.status === 401) { window.location.reload(); return null; }  // logged out: the login page
        if (resp.status === 403 || resp.status === 404) { stopped = true; return null; }  // gone
        if (!resp.ok) { throw new Error('status ' + resp.status); }
        return resp.json().then(apply);
      })
      .catch(function () { /* a missed answer: the next poll asks again */ })
      .then(schedule);
  }

  if (url) { schedule(); }
})();
