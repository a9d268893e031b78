"""Approved WhatsApp templates in the admin: what staff may send outside the 24-hour window."""

from django import forms
from django.contrib import admin

from .. import message_templates
from ..models import MessageTemplate
from .display import EMPTY


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["name", "content_sid", "language", "body", "variables", "active"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 5, "cols": 80}),
            "variables": forms.Textarea(attrs={"rows": 3, "cols": 80}),
        }

    def clean_content_sid(self) -> str:
        sid = self.cleaned_data["content_sid"].strip()
        if not message_templates.CONTENT_SID.match(sid):
            raise forms.ValidationError("A Content SID is HX followed by 32 hexadecimal digits (Twilio console).")
        return sid

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if len(body) > message_templates.MAX_RENDERED_CHARS:
            raise forms.ValidationError(
                f"WhatsApp templates hold at most {message_templates.MAX_RENDERED_CHARS} characters."
            )
        return body


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["name", "language", "placeholder_list", "active", "content_sid", "updated_at"]
    list_filter = ["active", "language"]
    search_fields = ["name", "body", "content_sid"]
    empty_value_display = EMPTY

    @admin.display(description="variables")
    def placeholder_list(self, obj: MessageTemplate) -> str:
        return ", ".join(f"{{{{{name}}}}}" for name in message_templates.placeholders(obj.body)) or EMPTY

    def has_delete_permission(self, request, obj=None) -> bool:
        # Sent messages point at their template: deactivate it instead.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.messages.exists())
