# /// script
# dependencies = []
#
# [tool.pyapp]
# name = "Image classifier"
# version = "0.1.0"
# description = "Classifies a camera frame with the bundled ImageNet classifier; returns the top 5 labels."
# icon = "photo_camera"
# ui = "k: {id: 'k', type: 'number', min: 1, max: 20, placeholder: 5}"
# outputs = { type = "array" }
# authors = ["pyapp authors"]
# license = "MIT"
# labels = ["camera", "classification"]
# ///
"""Image classifier: ``await classify()`` takes a frame from the camera (``window.pyapp.camera``) and returns the
top five ``[{label, p}]`` of the app's classifier model. Without a camera or on a page without the app's model
API the call fails with a message that says so."""

from imjoy import api


def _text(exc):
    """One line for an error from the page (a RemoteError's message, without its traceback)."""
    return getattr(exc, "message", None) or str(exc)


class ImageClassifier:
    async def setup(self):
        await api.log("Image classifier ready")

    async def classify(self, k=5):
        try:
            models = await api.get_service("pyapp.models")
        except Exception as exc:
            raise RuntimeError("Image classifier needs the app's page (window.pyapp): " + _text(exc)) from exc
        try:
            top = await models.classify({"k": int(k)})
        except Exception as exc:
            raise RuntimeError(f"cannot classify a camera frame: {_text(exc)}") from exc
        if top:
            await api.show_status(f"{top[0]['label']} ({top[0]['p']:.0%})")
        return top

    async def run(self, ctx):
        return await self.classify(ctx.config.get("k") or 5)


api.export(ImageClassifier())
