/* Baraza web chat: talks to POST /api/messages (see bot/channels/webchat/adapter.py for the JSON contract).
 *
 * Message texts are only ever put in the page with textContent, never as HTML.
 * Posts go one after the other, in the order the user made them.
 */
"use strict";

(function () {
  var RESUME_PAYLOAD = "resume";
  var API_URL = "/api/messages";
  var REQUEST_TIMEOUT_MS = 30000;
  var RETRY_DELAY_MS = 800;
  var TYPING_DELAY_MS = 300;

  var log = document.getElementById("log");
  var transcript = document.getElementById("transcript");
  var form = document.getElementById("composer");
  var input = document.getElementById("message-input");
  var status = document.getElementById("status");

  var queue = Promise.resolve();
  var pending = 0;
  var typingTimer = null;

  /* ---- ids ------------------------------------------------------------------------------ */

  function newId() {
    var cryptoObj = window.crypto;
    if (cryptoObj && typeof cryptoObj.randomUUID === "function") {
      try {
        return cryptoObj.randomUUID();
      } catch (e) {
        /* randomUUID needs a secure context (https or localhost): fall through. */
      }
    }
    if (cryptoObj && typeof cryptoObj.getRandomValues === "function") {
      var bytes = new Uint8Array(16);
      cryptoObj.getRandomValues(bytes);
      bytes[6] = (bytes[6] & 0x0f) | 0x40;
      bytes[8] = (bytes[8] & 0x3f) | 0x80;
      var hex = "";
      for (var i = 0; i < bytes.length; i++) {
        hex += (bytes[i] + 0x100).toString(16).slice(1);
      }
      return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
        hex.slice(16, 20) + "-" + hex.slice(20);
    }
    return "id-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2) +
      Math.random().toString(36).slice(2);
  }

  /* ---- network -------------------------------------------------------------------------- */

  function SendError(kind, code) {
    this.kind = kind; /* "network" or "http" */
    this.code = code || null;
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function postOnce(body) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    return fetch(API_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).finally(function () {
      if (timer) clearTimeout(timer);
    });
  }

  /* Posts body (which carries its id); a network error or a server error is retried once with
   * the same id, which the server processes only once. Resolves to the list of replies. */
  async function send(body) {
    var response = null;
    for (var attempt = 0; attempt < 2; attempt++) {
      try {
        response = await postOnce(body);
      } catch (e) {
        response = null;
      }
      if (response && response.status < 500) break;
      if (attempt === 0) await sleep(RETRY_DELAY_MS);
    }
    if (!response) throw new SendError("network");
    var data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) throw new SendError("http", data && data.error);
    if (!data || !Array.isArray(data.messages)) throw new SendError("http", "bad_response");
    return data.messages;
  }

  /* ---- rendering ------------------------------------------------------------------------ */

  function scrollToEnd() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  function createMessage(role) {
    var item = document.createElement("div");
    item.className = "msg " + role;
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = role === "user" ? "You said: " : "Baraza said: ";
    item.appendChild(who);
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    item.appendChild(bubble);
    return item;
  }

  function appendUserMessage(text) {
    var item = createMessage("user");
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    item.querySelector(".bubble").appendChild(p);
    log.appendChild(item);
    scrollToEnd();
    return item;
  }

  function appendNotice(text, retry) {
    var item = document.createElement("div");
    item.className = "msg notice error";
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    item.appendChild(p);
    if (retry) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.textContent = "Try again";
      button.addEventListener("click", function () {
        item.remove();
        retry();
      });
      item.appendChild(button);
    }
    log.appendChild(item);
    scrollToEnd();
    return item;
  }

  function dataUrlToBlobUrl(dataUrl, mimeType) {
    var comma = dataUrl.indexOf(",");
    if (comma < 0 || !/;base64$/.test(dataUrl.slice(0, comma))) return null;
    try {
      var binary = atob(dataUrl.slice(comma + 1));
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      return URL.createObjectURL(new Blob([bytes], { type: mimeType || "application/octet-stream" }));
    } catch (e) {
      return null;
    }
  }

  function formatSize(dataUrl) {
    var comma = dataUrl.indexOf(",");
    var bytes = Math.floor((dataUrl.length - comma - 1) * 3 / 4);
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function renderAttachment(attachment) {
    if (!attachment || typeof attachment.data_url !== "string") return null;
    var url = attachment.data_url;
    if (url.indexOf("data:") !== 0) return null; /* only what the server embedded */
    var filename = String(attachment.filename || "file");
    var mimeType = String(attachment.mime_type || "");
    if (attachment.kind === "image" && url.indexOf("data:image/") === 0) {
      var figure = document.createElement("figure");
      figure.className = "attachment image";
      var img = document.createElement("img");
      img.src = url;
      img.alt = "Image: " + filename;
      img.decoding = "async";
      figure.appendChild(img);
      return figure;
    }
    var link = document.createElement("a");
    link.className = "attachment document";
    link.href = dataUrlToBlobUrl(url, mimeType) || url;
    link.download = filename;
    link.textContent = "Download " + filename + " (" + formatSize(url) + ")";
    return link;
  }

  /* Fills a bot message element with a reply: text, attachment and buttons. */
  function fillBotMessage(item, message) {
    var bubble = item.querySelector(".bubble");
    bubble.textContent = "";
    var oldButtons = item.querySelector(".buttons");
    if (oldButtons) oldButtons.remove();
    delete item.dataset.busy;

    var text = typeof message.text === "string" ? message.text : "";
    if (text) {
      var p = document.createElement("p");
      p.className = "text";
      p.textContent = text;
      bubble.appendChild(p);
    }
    var attachment = renderAttachment(message.attachment);
    if (attachment) bubble.appendChild(attachment);
    if (!text && !attachment) bubble.classList.add("empty");
    else bubble.classList.remove("empty");

    var rows = Array.isArray(message.buttons) ? message.buttons : [];
    var group = null;
    rows.forEach(function (row) {
      if (!Array.isArray(row) || row.length === 0) return;
      if (!group) {
        group = document.createElement("div");
        group.className = "buttons";
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", "Choices");
      }
      var rowEl = document.createElement("div");
      rowEl.className = "row";
      row.forEach(function (choice) {
        if (!choice || typeof choice.payload !== "string") return;
        var button = document.createElement("button");
        button.type = "button";
        button.className = "choice";
        button.textContent = String(choice.label);
        button.dataset.payload = choice.payload;
        button.addEventListener("click", function () {
          pressButton(item, button, String(choice.label), choice.payload);
        });
        rowEl.appendChild(button);
      });
      group.appendChild(rowEl);
    });
    if (group) item.appendChild(group);
  }

  function appendBotMessage(message) {
    var item = createMessage("bot");
    fillBotMessage(item, message);
    log.appendChild(item);
    return item;
  }

  function setMessageBusy(item, busy) {
    if (busy) item.dataset.busy = "1";
    else delete item.dataset.busy;
    item.querySelectorAll("button.choice").forEach(function (button) {
      button.setAttribute("aria-disabled", busy ? "true" : "false");
    });
  }

  /* After an in-place update took the focused button away, put focus back somewhere useful. */
  function restoreFocus(item, payload, index) {
    var buttons = item.isConnected ? item.querySelectorAll("button.choice") : [];
    var target = null;
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].dataset.payload === payload) target = buttons[i];
    }
    if (!target && buttons.length) target = buttons[Math.min(index, buttons.length - 1)];
    if (!target) {
      var withButtons = log.querySelectorAll(".msg.bot .buttons");
      var last = withButtons.length ? withButtons[withButtons.length - 1] : null;
      target = (last && last.querySelector("button.choice")) || input;
    }
    target.focus({ preventScroll: true });
  }

  function showReplies(messages, context) {
    var appended = false;
    messages.forEach(function (message) {
      if (!message || typeof message !== "object") return;
      if (message.replaces_pressed && context.pressed && context.pressed.isConnected) {
        fillBotMessage(context.pressed, message);
      } else {
        appendBotMessage(message);
        appended = true;
      }
    });
    if (appended) scrollToEnd();
  }

  /* ---- sending -------------------------------------------------------------------------- */

  function setTyping(on) {
    if (typingTimer) {
      clearTimeout(typingTimer);
      typingTimer = null;
    }
    if (on) {
      typingTimer = setTimeout(function () {
        status.textContent = "Baraza is typing…";
        status.hidden = false;
      }, TYPING_DELAY_MS);
    } else {
      status.hidden = true;
    }
  }

  function errorText(error) {
    if (error && error.kind === "http") {
      if (error.code === "text_too_long" || error.code === "too_large") {
        return "That message is too long. Please shorten it and send it again.";
      }
      if (error.code === "too_many_requests") {
        return "You are sending messages very fast; please wait a moment and try again.";
      }
      return "Something went wrong on our side. Please try again.";
    }
    return "Your message could not be sent. Check your connection and try again.";
  }

  /* Queues one post; context says what it is for (pressed message, typed text, resume). */
  function enqueue(fields, context) {
    var body = { id: newId() };
    Object.keys(fields).forEach(function (key) { body[key] = fields[key]; });
    pending++;
    setTyping(true);
    queue = queue.then(async function () {
      try {
        var messages = await send(body);
        var hadFocus = context.pressed && context.pressed.contains(document.activeElement);
        showReplies(messages, context);
        if (context.pressed && hadFocus && !context.pressed.contains(document.activeElement)) {
          restoreFocus(context.pressed, context.payload, context.index);
        }
      } catch (error) {
        if (context.onError) context.onError(error);
        else appendNotice(errorText(error));
      } finally {
        if (context.pressed && context.pressed.isConnected && context.pressed.dataset.busy) {
          setMessageBusy(context.pressed, false);
        }
        pending--;
        if (pending === 0) setTyping(false);
      }
    });
    return queue;
  }

  function pressButton(item, button, label, payload) {
    if (item.dataset.busy) return; /* one press per message at a time */
    var buttons = Array.prototype.slice.call(item.querySelectorAll("button.choice"));
    appendUserMessage(label);
    setMessageBusy(item, true);
    enqueue({ payload: payload }, { pressed: item, payload: payload, index: buttons.indexOf(button) });
  }

  function sendText(text) {
    var userItem = appendUserMessage(text);
    enqueue({ text: text }, {
      onError: function (error) {
        userItem.classList.add("failed");
        var note = document.createElement("span");
        note.className = "failed-note";
        note.textContent = "Not sent";
        userItem.appendChild(note);
        appendNotice(errorText(error));
        if (!input.value) input.value = text; /* so it can be sent again */
      }
    });
  }

  function resume() {
    enqueue({ payload: RESUME_PAYLOAD }, {
      onError: function (error) {
        appendNotice(errorText(error), resume);
      }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) {
      input.focus();
      return;
    }
    input.value = "";
    sendText(text);
    input.focus();
  });

  resume();
})();
