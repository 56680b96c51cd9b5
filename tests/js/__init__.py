"""Python wrappers around the Node and Chromium tools the notification tests use."""
