/* Baraza web chat on another website: one <script> puts the chat on the page (see
 * bot/channels/webchat/embed.py and docs/channels.md).
 *
 *   <script src="https://chat.example.org/embed.js" async></script>          a bubble in the corner
 *   <script src="https://chat.example.org/embed.js" data-mode="inline"
 *           data-target="#chat" data-height="600" async></script>              a panel in #chat
 *
 * The chat runs in an <iframe> of https://chat.example.org/embed, on its own origin: this page never
 * sees the conversation, and the chat server refuses to be framed by a site not in its
 * web.embed.allowed_origins. Styles are set through the DOM (no stylesheet is added to the page).
 * The frame tells this page one thing: the word for "Close" in the conversation's language.
 */
(function () {
  "use strict";
  var LOOK = /*LOOK*/null || {};
  var script = document.currentScript;
  if (!script || !script.src) return;
  var origin = new URL(script.src).origin;
  var mode = script.getAttribute("data-mode") === "inline" ? "inline" : "bubble";
  var name = LOOK.office_name || "Baraza";
  var colour = LOOK.colour || "#0b57a4";
  var textColour = LOOK.text_colour || "#ffffff";

  function frame() {
    var iframe = document.createElement("iframe");
    iframe.src = origin + "/embed";
    iframe.title = name;
    iframe.setAttribute("allow", "geolocation; camera; microphone; clipboard-write");
    iframe.setAttribute("data-baraza-chat", mode);
    iframe.style.border = "0";
    iframe.style.width = "100%";
    iframe.style.height = "100%";
    iframe.style.display = "block";
    iframe.style.colorScheme = "light";
    return iframe;
  }

  function inline() {
    var selector = script.getAttribute("data-target");
    var target = selector ? document.querySelector(selector) : null;
    if (!target) {
      target = document.createElement("div");
      script.parentNode.insertBefore(target, script);
    }
    var height = parseInt(script.getAttribute("data-height") || "600", 10);
    var box = document.createElement("div");
    box.style.width = "100%";
    box.style.height = (height > 200 ? height : 600) + "px";
    box.style.maxHeight = "100vh";
    box.style.border = "1px solid " + colour;
    box.style.borderRadius = "8px";
    box.style.overflow = "hidden";
    box.appendChild(frame());
    target.appendChild(box);
  }

  function bubble() {
    var button = document.createElement("button");
    button.type = "button";
    button.setAttribute("data-baraza-bubble", "");
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-label", name + (LOOK.greeting ? ": " + LOOK.greeting : ""));
    button.title = LOOK.greeting || name;
    var s = button.style;
    s.position = "fixed";
    s.right = "16px";
    s.bottom = "16px";
    s.zIndex = "2147483000";
    s.width = "60px";
    s.height = "60px";
    s.borderRadius = "50%";
    s.border = "0";
    s.padding = "0";
    s.cursor = "pointer";
    s.background = colour;
    s.color = textColour;
    s.fontSize = "28px";
    s.lineHeight = "60px";
    s.boxShadow = "0 2px 10px rgba(0,0,0,.3)";
    if (LOOK.logo) {
      var logo = document.createElement("img");
      logo.src = LOOK.logo;
      logo.alt = "";
      logo.style.width = "36px";
      logo.style.height = "36px";
      logo.style.verticalAlign = "middle";
      button.appendChild(logo);
    } else {
      button.textContent = "\uD83D\uDCAC"; /* speech balloon */
    }

    var panel = null;
    var close = null;
    var closeWord = "Close"; /* the chat's own word once it says the conversation's language */
    function label() {
      if (close) close.setAttribute("aria-label", closeWord + " " + name);
    }
    /* Only the chat's frame may rename the button, and only with a short plain word. */
    window.addEventListener("message", function (event) {
      var data = event.data;
      if (event.origin !== origin || !data || data.baraza !== "interface") return;
      if (typeof data.close === "string" && data.close && data.close.length <= 40) {
        closeWord = data.close;
        label();
      }
    });
    function place() {
      if (!panel) return;
      var p = panel.style;
      if (window.innerWidth < 480) { /* a phone: the whole screen */
        p.left = "0"; p.right = "0"; p.top = "0"; p.bottom = "0";
        p.width = "100%"; p.height = "100%"; p.borderRadius = "0";
      } else {
        p.left = "auto"; p.top = "auto"; p.right = "16px"; p.bottom = "88px";
        p.width = "380px"; p.height = "min(600px, calc(100vh - 104px))"; p.borderRadius = "12px";
      }
    }
    function toggle(open) {
      if (open && !panel) {
        panel = document.createElement("div");
        panel.setAttribute("data-baraza-panel", "");
        panel.style.position = "fixed";
        panel.style.zIndex = "2147483001";
        panel.style.overflow = "hidden";
        panel.style.background = "#ffffff";
        panel.style.boxShadow = "0 4px 24px rgba(0,0,0,.3)";
        close = document.createElement("button");
        close.type = "button";
        close.textContent = "\u00D7";
        label();
        var c = close.style;
        c.position = "absolute"; c.top = "6px"; c.right = "8px"; c.zIndex = "1";
        c.width = "36px"; c.height = "36px"; c.border = "0"; c.borderRadius = "50%";
        c.background = "rgba(0,0,0,.25)"; c.color = "#ffffff"; c.fontSize = "22px"; c.cursor = "pointer";
        close.addEventListener("click", function () { toggle(false); button.focus(); });
        panel.appendChild(close);
        panel.appendChild(frame());
        document.body.appendChild(panel);
        place();
      }
      if (panel) panel.style.display = open ? "block" : "none";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.style.display = open && window.innerWidth < 480 ? "none" : "block";
    }
    button.addEventListener("click", function () {
      toggle(!panel || panel.style.display === "none");
    });
    window.addEventListener("resize", place);
    document.body.appendChild(button);
  }

  function start() {
    if (mode === "inline") inline();
    else bubble();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
