# /// script
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "Model runner"
# version = "0.1.0"
# description = "Runs a bioimage.io model on an image with the page's model worker (window.pyapp.predict)."
# icon = "model_training"
# ui = [
#     "model: {id: 'model', type: 'string', placeholder: 'smooth2d'}",
#     "image: {id: 'image', type: 'string', placeholder: 'models/smooth2d/test_input.npy'}",
#     { show = "{id: 'show', type: 'choose', options: ['yes', 'no'], placeholder: 'yes'}" },
# ]
# outputs = { type = "object" }
# authors = ["pyapp authors"]
# license = "MIT"
# labels = ["model", "bioimage.io"]
# ///
"""Model runner: the page's model worker as a plugin. Other plugins call
``await (await api.get_plugin("Model runner")).predict(model, image, options)`` with a bundled model id (or a
model URL) and an ndarray (or an image URL); it returns ``{backend, ms, outputs: [{id, shape, dtype, data}]}``
with each output's ``data`` as an ndarray. It needs a page that has ``window.pyapp`` (the app's own page)."""

from imjoy import api


def _text(exc):
    """One line for an error from the page (a RemoteError's message, without its traceback)."""
    return getattr(exc, "message", None) or str(exc)


class ModelRunner:
    async def setup(self):
        await api.log("Model runner ready")

    async def _models(self):
        try:
            return await api.get_service("pyapp.models")
        except Exception as exc:
            raise RuntimeError("Model runner needs the app's page (window.pyapp with predict): " + _text(exc)) from exc

    async def predict(self, model, image, options=None):
        models = await self._models()
        await api.show_status(f"running {model}")
        result = await models.predict(model, image, dict(options or {}))
        await api.show_status(f"{model}: {result['ms']:.0f} ms on {result['backend']}")
        return result

    async def models(self):
        return await (await self._models()).models()

    async def run(self, ctx):
        config = ctx.config
        model = config.get("model") or "smooth2d"
        image = config.get("image")
        if image is None or isinstance(image, str) and not image:
            image = "models/smooth2d/test_input.npy"
        result = await self.predict(model, image)
        output = result["outputs"][0]["data"]
        if (config.get("show") or "yes") == "yes" and output.ndim >= 2:
            picture = output.reshape(output.shape[-2:]) if output.ndim > 2 and output.shape[:-2] == (1,) * (
                output.ndim - 2) else output
            if picture.ndim in (2, 3):
                await api.create_window({"type": "imageviewer", "name": f"{model} output", "data": picture})
        return {"model": model, "shape": list(output.shape), "dtype": str(output.dtype), "ms": result["ms"]}


api.export(ModelRunner())
