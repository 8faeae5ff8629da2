/* The queue page: what waits on this phone, since when and in which state; the server's reason for a
   refusal; edit (reopen the form with the queued values) or discard; and "send now". */
(function () {
  "use strict";
  var box = document.getElementById("offline-queue");
  var offline = window.RegistryOffline;
  if (!box || !offline) { return; }
  var list = document.getElementById("queue-list");
  var status = document.getElementById("queue-status");
  var button = document.getElementById("send-now");
  var msg = box.dataset;

  function text(tag, value, className) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (className) { el.className = className; }
    return el;
  }

  function stateLabel(state) {
    var key = "msgState" + state.charAt(0).toUpperCase() + state.slice(1);
    return msg[key] || state;
  }

  function row(item) {
    var li = document.createElement("li");
    li.className = "queue-item";
    li.dataset.key = item.key;
    li.dataset.state = item.state;
    li.appendChild(text("strong", item.facility_name || ("#" + item.facility_id)));
    var when = new Date(item.saved_at);
    li.appendChild(text("p", msg.msgSaved + " " + when.toLocaleString() + " · " + item.photos.length + " " +
                        msg.msgPhotos + " · " + stateLabel(item.state), "muted queue-item__meta"));
    if (item.state === "refused" || (item.state === "error" && item.message)) {
      var reason = text("p", item.message, "queue-item__reason");
      reason.dataset.reason = "1";
      li.appendChild(reason);
      if (item.field) {
        var field = text("p", msg.msgField + " ");
        field.appendChild(text("code", item.field));
        li.appendChild(field);
      }
    }
    var actions = document.createElement("div");
    actions.className = "queue-item__actions";
    var edit = text("a", msg.msgEdit, "button button--small queue-edit");
    // Only a page of this area (the stored value is the form's own path; anything else is not followed).
    edit.href = /^\/manage\/facilities\/[0-9]+\/inspect\?queued=/.test(item.edit_url) ? item.edit_url : "#";
    actions.appendChild(edit);
    var discard = text("button", msg.msgDiscard, "button button--small queue-discard");
    discard.type = "button";
    discard.addEventListener("click", function () {
      if (!window.confirm(msg.msgConfirmDiscard)) { return; }
      offline.remove(item.key).then(render);
    });
    actions.appendChild(discard);
    li.appendChild(actions);
    return li;
  }

  function render() {
    return offline.all().then(function (items) {
      var user = offline.currentUser();
      var mine = items.filter(function (item) { return item.user === user; })
        .sort(function (a, b) { return a.saved_at < b.saved_at ? -1 : 1; });
      list.textContent = "";
      mine.forEach(function (item) { list.appendChild(row(item)); });
      box.dataset.queued = String(mine.length);
      var others = items.length - mine.length;
      var lines = [];
      if (!mine.length) { lines.push(msg.msgEmpty); }
      if (others) { lines.push(msg.msgOtherUser.replace("{n}", others)); }
      status.textContent = lines.join(" ");
    });
  }

  function sendNow() {
    button.disabled = true;
    return offline.sync(msg.sessionUrl).then(function (summary) {
      return render().then(function () {
        var lines = [status.textContent];
        if (summary.sent) { lines.unshift(msg.msgSent.replace("{n}", summary.sent)); }
        if (summary.offline) { lines.push(msg.msgOffline); }
        if (summary.signIn) { lines.push(msg.msgSignIn); }
        status.textContent = lines.filter(Boolean).join(" ");
      });
    }).then(function () { button.disabled = false; }, function () { button.disabled = false; });
  }

  button.addEventListener("click", sendNow);
  window.addEventListener("registry-offline-change", render);
  window.addEventListener("registry-offline-synced", render);
  offline.storageWarning(document.getElementById("storage-warning"), msg.msgStorage);
  render();
}());
