-- What makes a component a thing of the lab: the address that opens it, the host it runs on,
-- an icon (a built-in name or the id of an image artifact of the project) and a description.
-- All optional; existing components have none.
ALTER TABLE components
    ADD COLUMN url         VARCHAR(2048),
    ADD COLUMN host        VARCHAR(253),
    ADD COLUMN icon        VARCHAR(64),
    ADD COLUMN description TEXT;
