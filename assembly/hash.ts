// placeholder: implemented by the hash work item
