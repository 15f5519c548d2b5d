// The admin's few scripts: confirmations, "select all", one submit per form, and the bulk
// capture's progress. Every page works without them.
(function () {
  'use strict';
  var en = document.documentElement.lang === 'en';

  document.addEventListener('submit', function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.getAttribute('data-confirm')) || form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.method.toLowerCase() === 'post') {
      if (form.dataset.sent) {
        event.preventDefault(); // a second click of the same submit: the first is on its way
        return;
      }
      form.dataset.sent = '1';
    }
  });

  document.addEventListener('change', function (event) {
    var all = event.target.getAttribute && event.target.getAttribute('data-select-all');
    if (!all) return;
    var boxes = event.target.form.querySelectorAll('input[type=checkbox][name="' + all + '"]');
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = event.target.checked;
  });

  var bulk = document.getElementById('bulk');
  if (!bulk || bulk.getAttribute('data-running') !== 'true') return;
  var labels = en
    ? { done: 'Captured', skipped: 'Skipped', refused: 'Refused', waiting: 'Waiting',
        running: 'Running…', finished: 'Finished.' }
    : { done: '実売上', skipped: '対象外', refused: '失敗', waiting: '待機中',
        running: '処理中…', finished: '完了しました。' };
  var set = function (id, text) { var e = document.getElementById(id); if (e) e.textContent = text; };

  function show(progress) {
    var finished = progress.total - progress.waiting;
    var bar = document.getElementById('bulk-progress');
    bar.max = progress.total;
    bar.value = finished;
    bar.textContent = finished + ' / ' + progress.total;
    set('bulk-count', finished + ' / ' + progress.total);
    set('bulk-done', progress.done);
    set('bulk-skipped', progress.skipped);
    set('bulk-refused', progress.refused);
    progress.items.forEach(function (item) {
      var row = document.querySelector('#bulk-items tr[data-order="' + item.order + '"]');
      if (!row || row.className === 'outcome-' + item.outcome) return;
      row.className = 'outcome-' + item.outcome;
      row.cells[1].textContent = labels[item.outcome] || item.outcome;
      row.cells[2].textContent = item.message;
    });
    // Interrupted (its server stopped): the page itself says so and offers to resume.
    if (progress.interrupted) {
      window.location.reload();
      return false;
    }
    var state = progress.running ? labels.running : labels.finished;
    if (document.getElementById('bulk-state').textContent !== state) set('bulk-state', state);
    bulk.setAttribute('data-running', String(progress.running));
    return progress.running;
  }

  function poll() {
    fetch('/api/amazonpay2/admin/bulk/' + bulk.getAttribute('data-job'), { credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (progress) { if (show(progress)) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
