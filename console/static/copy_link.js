// "Copy" buttons: data-copy names the input whose value goes to the clipboard; [data-copied] says it worked.
(function () {
  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-copy]');
    if (!button) { return; }
    var input = document.querySelector(button.getAttribute('data-copy'));
    if (!input) { return; }
    var done = function () {
      var said = button.closest('section') && button.closest('section').querySelector('[data-copied]');
      if (said) { said.hidden = false; }
      button.textContent = 'Copied';
    };
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        if (document.execCommand('copy')) { done(); }
      });
    } else if (document.execCommand('copy')) {
      done();
    }
  });
}());
