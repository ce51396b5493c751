// Browser notifications for the web chat (Web Push). Offers a "Notify me" button in the page's
// header when the browser can receive push messages; on a press it asks the permission,
// registers the service worker (/sw.js), subscribes with the server's VAPID public key
// (/api/push/key) and hands the subscription to the server (/api/push/subscribe), which then
// sends notices and answers to requests to this browser. Loaded by index.html beside chat.js.
(function () {
  "use strict";

  /* English until chat.js passes on the conversation's words (the "interface" of each answer,
   * keys webchat_notify_* of the catalogues) with a "baraza:interface" event. */
  var words = {
    notify_offer: "Notify me", notify_on: "Notifications on",
    notify_write: "Write a message first, then turn notifications on.",
    notify_denied: "Notifications are blocked in this browser's settings.",
    notify_failed: "Notifications could not be turned on."
  };

  function texts() {
    return { offer: words.notify_offer, on: words.notify_on, write: words.notify_write,
             denied: words.notify_denied, failed: words.notify_failed };
  }

  document.addEventListener("baraza:interface", function (event) {
    var given = event.detail && event.detail.words;
    if (!given) return;
    Object.keys(words).forEach(function (key) {
      if (typeof given[key] === "string" && given[key]) words[key] = given[key];
    });
    var button = document.getElementById("push-button");
    if (button) setState(button, button.dataset.state, button.dataset.note ? texts()[button.dataset.note] : "");
  });

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    });
  }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function setState(button, state, note) {
    button.dataset.state = state;
    var shown = texts();
    button.dataset.note = Object.keys(shown).filter(function (key) { return note && shown[key] === note; })[0] || "";
    button.textContent = state === "on" ? texts().on : texts().offer;
    button.disabled = state === "on" || state === "busy";
    button.title = note || "";
    var status = document.getElementById("push-status");
    if (status) { status.textContent = note || ""; status.hidden = !note; }
  }

  async function subscribe(button) {
    setState(button, "busy");
    try {
      var permission = await Notification.requestPermission();
      if (permission !== "granted") { setState(button, "off", texts().denied); return; }
      var registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
      await navigator.serviceWorker.ready;
      var key = (await (await fetch("/api/push/key", { credentials: "same-origin" })).json()).key;
      var subscription = await registration.pushManager.getSubscription();
      if (!subscription) {
        subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      }
      var response = await post("/api/push/subscribe", subscription.toJSON());
      if (response.status === 403) { setState(button, "off", texts().write); return; }
      if (!response.ok) { setState(button, "off", texts().failed); return; }
      setState(button, "on");
    } catch (error) {
      setState(button, "off", texts().failed);
    }
  }

  function start() {
    if (!supported()) return;
    var header = document.querySelector(".app-header");
    if (!header || document.getElementById("push-button")) return;
    var button = document.createElement("button");
    button.type = "button";
    button.id = "push-button";
    button.className = "push";
    var status = document.createElement("p");
    status.id = "push-status";
    status.className = "status";
    status.hidden = true;
    status.setAttribute("role", "status");
    header.insertBefore(button, header.firstChild); /* floats beside the title */
    header.appendChild(status);
    setState(button, Notification.permission === "denied" ? "off" : "off");
    button.addEventListener("click", function () { subscribe(button); });
    // Already subscribed in an earlier visit: say so (and refresh the server's copy).
    if (Notification.permission === "granted") {
      navigator.serviceWorker.getRegistration("/").then(function (registration) {
        return registration && registration.pushManager.getSubscription();
      }).then(function (subscription) {
        if (!subscription) return;
        return post("/api/push/subscribe", subscription.toJSON()).then(function (response) {
          if (response.ok) setState(button, "on");
        });
      }).catch(function () {});
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
