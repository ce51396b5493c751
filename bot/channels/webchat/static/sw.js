// The web chat's service worker: shows a notice or an answer pushed by the server (Web Push)
// as a notification, and opens the chat when it is clicked. Served at /sw.js (scope: the chat).
"use strict";

self.addEventListener("push", function (event) {
  var message = { title: "Baraza", body: "", url: "/" };
  try {
    if (event.data) message = Object.assign(message, event.data.json());
  } catch (error) {
    message.body = event.data ? event.data.text() : "";
  }
  event.waitUntil(self.registration.showNotification(message.title, { body: message.body, data: { url: message.url } }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if ("focus" in windows[i]) return windows[i].focus();
    }
    return self.clients.openWindow(url);
  }));
});
